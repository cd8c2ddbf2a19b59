#!/usr/bin/env bun
/**
 * `bun run image`: the container image (scripts/image/Containerfile) of the linux
 * executable, built with podman or docker, whichever works here.
 *
 *   bun run image [--arch amd64|arm64] [--tag NAME:TAG]... [--runtime podman|docker] [--manifest NAME] [--label KEY=VALUE]...
 *
 * Tags llm-proxy:<version> and llm-proxy:latest unless --tag is given; --manifest
 * (podman) adds the image to a multi-arch manifest list instead. The executable
 * dist/llm-proxy-linux-<arch> is built first unless it is newer than every source file.
 * The build context is a staging folder, dist/image/<arch>/: the executable, the
 * glibc files it links (read from its ELF header; for another architecture from
 * Debian's libc6-<arch>-cross), CA certificates, and /etc/passwd and /etc/group
 * for the user llm-proxy (uid and gid 10001).
 */
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { build, DIST, fileName, ROOT, TARGETS } from "./build.ts";
import { EM_AARCH64, EM_X86_64, readDynamic } from "./image/elf.ts";

export type Arch = "amd64" | "arm64";
export type RuntimeName = "podman" | "docker";

export const CONTAINERFILE = join(ROOT, "scripts/image/Containerfile");
export const USER_ID = 10001;
export const IMAGE = "llm-proxy";
export const CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

const ARCHES: Record<Arch, { machine: number; triplet: string }> = {
  amd64: { machine: EM_X86_64, triplet: "x86_64-linux-gnu" },
  arm64: { machine: EM_AARCH64, triplet: "aarch64-linux-gnu" },
};

export class ImageError extends Error {
  override name = "ImageError";
}

export const hostArch = (): Arch | undefined => (process.arch === "x64" ? "amd64" : process.arch === "arm64" ? "arm64" : undefined);
const isArch = (value: string): value is Arch => value === "amd64" || value === "arm64";

/** The version tags: `llm-proxy:<version>` and `llm-proxy:latest`. */
export const defaultTags = (): string[] => [`${IMAGE}:${pkg.version}`, `${IMAGE}:latest`];

export function executablePath(arch: Arch): string {
  return join(DIST, fileName(TARGETS.find((t) => t.os === "linux" && t.arch === arch)!));
}

/** Newest modification time of the files an executable is built from. */
function newestSource(): number {
  const walk = (dir: string): number =>
    Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? walk(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs)));
  return Math.max(walk(join(ROOT, "src")), ...["package.json", "bun.lock"].map((f) => statSync(join(ROOT, f)).mtimeMs));
}

/** dist/llm-proxy-linux-<arch>, built unless it is already newer than every file in src/. */
export async function freshExecutable(arch: Arch): Promise<string> {
  const exe = executablePath(arch);
  let mtime = 0;
  try {
    mtime = statSync(exe).mtimeMs;
  } catch {
    // Not built yet: built below.
  }
  if (mtime <= newestSource()) {
    mkdirSync(DIST, { recursive: true });
    await build(TARGETS.find((t) => t.os === "linux" && t.arch === arch)!);
  }
  return exe;
}

/** Where this machine keeps the arch's glibc: its own folders for its own arch, the cross package's otherwise. */
function libraryDirs(arch: Arch): { dirs: string[]; hint: string } {
  const { triplet } = ARCHES[arch];
  if (arch === hostArch()) return { dirs: [`/lib/${triplet}`, `/usr/lib/${triplet}`, "/lib64", "/lib"], hint: "the C library of this machine" };
  return { dirs: [`/usr/${triplet}/lib`], hint: `Debian's libc6-${arch}-cross (apt-get install libc6-${arch}-cross)` };
}

export interface Library {
  /** Path in the image. */
  readonly target: string;
  /** File on this machine. */
  readonly source: string;
}

/**
 * The loader and every library the executable needs, transitively (what ldd lists,
 * found without running it): the loader at its PT_INTERP path, libraries in
 * /lib/<triplet>/, a folder every glibc loader searches without a cache.
 */
export function linkedLibraries(exe: string, arch: Arch): Library[] {
  const { machine, triplet } = ARCHES[arch];
  const top = readDynamic(exe);
  if (top.machine !== machine) throw new ImageError(`${exe} is not a linux-${arch} executable (ELF machine ${top.machine})`);
  if (!top.interpreter) throw new ImageError(`${exe} has no ELF interpreter: expected a dynamically linked executable`);
  const { dirs, hint } = libraryDirs(arch);
  const find = (name: string): string => {
    for (const dir of dirs) {
      try {
        return realpathSync(join(dir, name));
      } catch {
        // Not in this folder: try the next.
      }
    }
    throw new ImageError(`${name} for ${arch} not found in ${dirs.join(", ")}; it comes with ${hint}`);
  };
  const loaderName = basename(top.interpreter);
  const libraries: Library[] = [{ target: top.interpreter, source: find(loaderName) }];
  const seen = new Set([loaderName]);
  const queue = [...top.needed];
  while (queue.length > 0) {
    const name = queue.shift()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const source = find(name);
    libraries.push({ target: `/lib/${triplet}/${name}`, source });
    queue.push(...readDynamic(source).needed);
  }
  return libraries;
}

const PASSWD = `root:x:0:0:root:/root:/sbin/nologin\nllm-proxy:x:${USER_ID}:${USER_ID}:llm-proxy:/var/lib/llm-proxy:/sbin/nologin\n`;
const GROUP = `root:x:0:\nllm-proxy:x:${USER_ID}:\n`;
// glibc reads this for host names; without it, DNS would be asked before /etc/hosts.
const NSSWITCH = "passwd: files\ngroup: files\nhosts: files dns\n";

/** Writes the build context for `arch` into dist/image/<arch>/ (emptied first) and returns its path. */
export function stageContext(arch: Arch, exe: string): string {
  const context = join(DIST, "image", arch);
  rmSync(context, { recursive: true, force: true });
  const rootfs = join(context, "rootfs");
  const put = (path: string, mode: number, write: (to: string) => void) => {
    const to = join(rootfs, path);
    mkdirSync(dirname(to), { recursive: true });
    write(to);
    chmodSync(to, mode);
  };
  for (const lib of linkedLibraries(exe, arch)) put(lib.target, 0o755, (to) => copyFileSync(lib.source, to));
  try {
    put(CA_BUNDLE, 0o644, (to) => copyFileSync(CA_BUNDLE, to));
  } catch (error) {
    throw new ImageError(`${CA_BUNDLE} is missing: install Debian's ca-certificates (apt-get install ca-certificates)`, { cause: error });
  }
  put("etc/passwd", 0o644, (to) => writeFileSync(to, PASSWD));
  put("etc/group", 0o644, (to) => writeFileSync(to, GROUP));
  put("etc/nsswitch.conf", 0o644, (to) => writeFileSync(to, NSSWITCH));
  put("etc/llm-proxy", 0o755, (to) => mkdirSync(to));
  put("tmp", 0o1777, (to) => mkdirSync(to));
  // The parents of the working directory, root's; only the directory itself is the user's (home/ in the Containerfile).
  put("var/lib", 0o755, (to) => mkdirSync(to));
  mkdirSync(join(context, "home"));
  copyFileSync(exe, join(context, "llm-proxy"));
  chmodSync(join(context, "llm-proxy"), 0o755);
  return context;
}

export interface Runtime {
  readonly name: RuntimeName;
  readonly version: string;
}

/**
 * The first of podman and docker (or only `wanted`) that answers `info`: installed
 * is not enough, docker's client without its daemon is common. `tried` says why
 * each one is out.
 */
export function findRuntime(wanted?: RuntimeName): { runtime?: Runtime; tried: string[] } {
  const tried: string[] = [];
  for (const name of wanted ? [wanted] : (["podman", "docker"] as const)) {
    if (!Bun.which(name)) {
      tried.push(`${name}: not installed`);
      continue;
    }
    const info = Bun.spawnSync([name, "info", "--format", name === "podman" ? "{{.Version.Version}}" : "{{.ServerVersion}}"], { stdout: "pipe", stderr: "pipe", timeout: 30_000 });
    if (info.success) return { runtime: { name, version: info.stdout.toString().trim() }, tried };
    tried.push(`${name}: \`${name} info\` failed: ${info.stderr.toString().trim().split("\n").at(-1) ?? `exit ${info.exitCode}`}`);
  }
  return { tried };
}

export interface BuildOptions {
  readonly arch: Arch;
  readonly runtime: RuntimeName;
  /** The linux executable for `arch`. */
  readonly exe: string;
  readonly tags?: readonly string[];
  /** podman only: add the image to this manifest list (created if missing) instead of tagging it. */
  readonly manifest?: string;
  readonly labels?: Readonly<Record<string, string>>;
  /** Keep the runtime's output unless the build fails (tests). */
  readonly quiet?: boolean;
}

/** Stages the context and builds the image; returns the image id (with `manifest`, the list's). */
export function buildImage(options: BuildOptions): string {
  const { arch, runtime } = options;
  if (options.manifest && runtime !== "podman") throw new ImageError("--manifest needs podman (with docker, tag each architecture and join them with docker buildx imagetools create)");
  const context = stageContext(arch, options.exe);
  const revision = Bun.spawnSync(["git", "rev-parse", "HEAD"], { cwd: ROOT, stderr: "ignore" });
  const labels: Record<string, string> = {
    "org.opencontainers.image.version": pkg.version,
    ...(revision.success ? { "org.opencontainers.image.revision": revision.stdout.toString().trim() } : {}),
    ...options.labels,
  };
  const cmd = [runtime, "build", "--platform", `linux/${arch}`, "-f", CONTAINERFILE];
  if (options.manifest) cmd.push("--manifest", options.manifest);
  for (const tag of options.manifest ? [] : (options.tags ?? defaultTags())) cmd.push("-t", tag);
  for (const [key, value] of Object.entries(labels)) cmd.push("--label", `${key}=${value}`);
  const idFile = join(DIST, "image", `${arch}.id`);
  cmd.push("--iidfile", idFile, context);
  const output = options.quiet ? "pipe" : "inherit";
  const result = Bun.spawnSync(cmd, { stdout: output, stderr: output });
  if (!result.success) {
    const said = options.quiet ? `:\n${result.stdout?.toString() ?? ""}${result.stderr?.toString() ?? ""}` : "";
    throw new ImageError(`${cmd.join(" ")} failed (exit ${result.exitCode})${said}`);
  }
  return readFileSync(idFile, "utf8").trim();
}

/** The image's size in bytes, as the runtime reports it. */
export function imageSize(runtime: RuntimeName, image: string): number {
  const result = Bun.spawnSync([runtime, "image", "inspect", "--format", "{{.Size}}", image], { stdout: "pipe", stderr: "pipe" });
  if (!result.success) throw new ImageError(`${runtime} image inspect ${image} failed: ${result.stderr.toString().trim()}`);
  return Number(result.stdout.toString().trim());
}

export interface ImageArgs {
  arch: Arch;
  tags: string[];
  runtime?: RuntimeName;
  manifest?: string;
  labels: Record<string, string>;
}

export function parseImageArgs(argv: readonly string[]): ImageArgs {
  const args: ImageArgs = { arch: hostArch() ?? "amd64", tags: [], labels: {} };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith("--") && arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (!v) throw new ImageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "--arch": {
        const v = value();
        if (!isArch(v)) throw new ImageError(`--arch is amd64 or arm64, not ${JSON.stringify(v)}`);
        args.arch = v;
        break;
      }
      case "--tag":
      case "-t":
        args.tags.push(value());
        break;
      case "--runtime": {
        const v = value();
        if (v !== "podman" && v !== "docker") throw new ImageError(`--runtime is podman or docker, not ${JSON.stringify(v)}`);
        args.runtime = v;
        break;
      }
      case "--manifest":
        args.manifest = value();
        break;
      case "--label": {
        const v = value();
        if (!v.includes("=")) throw new ImageError(`--label is KEY=VALUE, not ${JSON.stringify(v)}`);
        args.labels[v.slice(0, v.indexOf("="))] = v.slice(v.indexOf("=") + 1);
        break;
      }
      default:
        throw new ImageError(`unknown argument ${JSON.stringify(arg)}; usage: bun run image [--arch amd64|arm64] [--tag NAME:TAG]... [--runtime podman|docker] [--manifest NAME] [--label KEY=VALUE]...`);
    }
  }
  return args;
}

if (import.meta.main) {
  try {
    const args = parseImageArgs(process.argv.slice(2));
    const { runtime, tried } = findRuntime(args.runtime);
    if (!runtime) throw new ImageError(`no container runtime works here (${tried.join("; ")}); install podman or docker`);
    const exe = await freshExecutable(args.arch);
    const started = performance.now();
    const tags = args.tags.length > 0 ? args.tags : defaultTags();
    const id = buildImage({ arch: args.arch, runtime: runtime.name, exe, tags, manifest: args.manifest, labels: args.labels });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    if (args.manifest) {
      console.log(`built the linux/${args.arch} image into the manifest list ${args.manifest} with ${runtime.name} ${runtime.version} in ${seconds} s`);
    } else {
      const size = (imageSize(runtime.name, id) / 1e6).toFixed(1);
      console.log(`built linux/${args.arch} image ${id.replace(/^sha256:/, "").slice(0, 12)} (${tags.join(", ")}) with ${runtime.name} ${runtime.version}: ${size} MB in ${seconds} s`);
    }
  } catch (error) {
    if (!(error instanceof ImageError)) throw error;
    console.error(`image: ${error.message}`);
    process.exit(1);
  }
}
