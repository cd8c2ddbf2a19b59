/**
 * What a 64-bit little-endian ELF file needs from the dynamic loader: its
 * interpreter (PT_INTERP) and the libraries it names (DT_NEEDED). Read from the
 * file, never by running it, so an arm64 executable is read as well on amd64.
 * Layout: https://refspecs.linuxfoundation.org/elf/gabi4+/ch5.dynamic.html
 */
import { closeSync, openSync, readSync } from "node:fs";

export interface Dynamic {
  /** e_machine: 62 x86-64, 183 AArch64. */
  readonly machine: number;
  /** The loader's path, e.g. /lib64/ld-linux-x86-64.so.2; undefined for a shared library. */
  readonly interpreter: string | undefined;
  /** Sonames in the order the file lists them, e.g. libc.so.6. */
  readonly needed: readonly string[];
}

export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NULL = 0n;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;
const DT_STRSZ = 10n;

export class ElfError extends Error {
  override name = "ElfError";
}

export function readDynamic(path: string): Dynamic {
  const fd = openSync(path, "r");
  try {
    const read = (offset: number, length: number): DataView => {
      const bytes = new Uint8Array(length);
      const got = readSync(fd, bytes, 0, length, offset);
      if (got !== length) throw new ElfError(`${path}: truncated ELF file (wanted ${length} bytes at ${offset})`);
      return new DataView(bytes.buffer);
    };
    const header = read(0, 64);
    if (header.getUint32(0) !== 0x7f454c46) throw new ElfError(`${path}: not an ELF file`);
    if (header.getUint8(4) !== 2 || header.getUint8(5) !== 1) throw new ElfError(`${path}: not a 64-bit little-endian ELF file`);
    const machine = header.getUint16(18, true);
    const phoff = Number(header.getBigUint64(32, true));
    const phentsize = header.getUint16(54, true);
    const phnum = header.getUint16(56, true);

    const segments = Array.from({ length: phnum }, (_, i) => {
      const ph = read(phoff + i * phentsize, 56);
      return { type: ph.getUint32(0, true), offset: Number(ph.getBigUint64(8, true)), vaddr: Number(ph.getBigUint64(16, true)), filesz: Number(ph.getBigUint64(32, true)) };
    });
    const cString = (view: DataView, at: number): string => {
      const bytes = new Uint8Array(view.buffer, at);
      const end = bytes.indexOf(0);
      return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
    };

    const interp = segments.find((s) => s.type === PT_INTERP);
    const interpreter = interp ? cString(read(interp.offset, interp.filesz), 0) : undefined;

    const dynamic = segments.find((s) => s.type === PT_DYNAMIC);
    if (!dynamic) return { machine, interpreter, needed: [] };
    const entries = read(dynamic.offset, dynamic.filesz);
    const neededAt: number[] = [];
    let strtab: number | undefined;
    let strsz = 0;
    for (let at = 0; at + 16 <= dynamic.filesz; at += 16) {
      const tag = entries.getBigInt64(at, true);
      const value = Number(entries.getBigUint64(at + 8, true));
      if (tag === DT_NULL) break;
      if (tag === DT_NEEDED) neededAt.push(value);
      if (tag === DT_STRTAB) strtab = value;
      if (tag === DT_STRSZ) strsz = value;
    }
    if (neededAt.length === 0) return { machine, interpreter, needed: [] };
    // DT_STRTAB is an address in memory: the loadable segment holding it says where it is in the file.
    const load = segments.find((s) => s.type === PT_LOAD && strtab !== undefined && strtab >= s.vaddr && strtab < s.vaddr + s.filesz);
    if (strtab === undefined || !load) throw new ElfError(`${path}: DT_NEEDED entries without a string table`);
    const strings = read(strtab - load.vaddr + load.offset, strsz);
    return { machine, interpreter, needed: neededAt.map((offset) => cString(strings, offset)) };
  } finally {
    closeSync(fd);
  }
}
