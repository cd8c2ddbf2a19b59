import { describe, expect, test } from "bun:test";
import { optionalTool } from "./helpers/tools.ts";
import { readFileSync, realpathSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { parse } from "yaml";
import { defaultTags, freshExecutable, hostArch, IMAGE, linkedLibraries, parseImageArgs, stageContext, USER_ID } from "../scripts/image.ts";
import { ElfError, readDynamic } from "../scripts/image/elf.ts";

const root = join(import.meta.dir, "..");
const linux = process.platform === "linux" && hostArch() !== undefined;

/** ldd's answer for `exe`: soname → the file on this machine (the loader under its own path). */
function ldd(exe: string): Map<string, string> {
  const out = Bun.spawnSync(["ldd", exe], { stdout: "pipe" }).stdout.toString();
  const found = new Map<string, string>();
  for (const line of out.split("\n")) {
    const linked = /^\s*(\S+) => (\S+) \(0x/.exec(line);
    const loader = /^\s*(\/\S+) \(0x/.exec(line);
    if (linked) found.set(linked[1]!, linked[2]!);
    else if (loader) found.set(loader[1]!, loader[1]!);
  }
  return found;
}

const lddTool = optionalTool("ldd", Bun.which("ldd") !== null, "apt-get install libc-bin", "the image holds exactly the libraries the executable links");

describe.skipIf(!linux || !lddTool.run)("the image's build context", () => {
  test("holds exactly the loader and libraries ldd lists, read from the ELF header without running the executable", async () => {
    const exe = await freshExecutable(hostArch()!);
    const libraries = linkedLibraries(exe, hostArch()!);
    const expected = ldd(exe);
    expect(expected.size).toBeGreaterThanOrEqual(5);
    const interpreter = readDynamic(exe).interpreter!;
    expect(expected.has(interpreter)).toBe(true);
    expect(libraries.map((l) => (l.target === interpreter ? interpreter : basename(l.target))).sort()).toEqual([...expected.keys()].sort());
    for (const lib of libraries) {
      const fromLdd = expected.get(lib.target === interpreter ? interpreter : basename(lib.target))!;
      expect(lib.source).toBe(realpathSync(fromLdd));
    }
  });

  test("stages the executable, the user llm-proxy (10001), the CA bundle and a /tmp for everyone", async () => {
    const exe = await freshExecutable(hostArch()!);
    const context = stageContext(hostArch()!, exe);
    const rootfs = join(context, "rootfs");
    expect(statSync(join(context, "llm-proxy")).size).toBe(statSync(exe).size);
    expect(statSync(join(context, "llm-proxy")).mode & 0o777).toBe(0o755);
    expect(readFileSync(join(rootfs, "etc/passwd"), "utf8")).toContain(`llm-proxy:x:${USER_ID}:${USER_ID}:llm-proxy:/var/lib/llm-proxy:/sbin/nologin\n`);
    expect(readFileSync(join(rootfs, "etc/group"), "utf8")).toContain(`llm-proxy:x:${USER_ID}:\n`);
    expect(readFileSync(join(rootfs, "etc/ssl/certs/ca-certificates.crt"), "utf8")).toContain("-----BEGIN CERTIFICATE-----");
    expect(statSync(join(rootfs, "tmp")).mode & 0o7777).toBe(0o1777);
    expect(statSync(join(rootfs, "etc/llm-proxy")).isDirectory()).toBe(true);
    for (const lib of linkedLibraries(exe, hostArch()!)) expect(statSync(join(rootfs, lib.target)).size).toBe(statSync(lib.source).size);
  });
});

test("readDynamic refuses a file that is not ELF, naming it", () => {
  expect(() => readDynamic(join(root, "package.json"))).toThrow(new ElfError(`${join(root, "package.json")}: not an ELF file`));
});

test("bun run image takes the architecture, tags, runtime, manifest and labels", () => {
  expect(parseImageArgs(["--arch", "arm64", "--tag=a/b:1", "-t", "c:2", "--runtime=docker", "--label", "k=v=w"])).toEqual({
    arch: "arm64",
    tags: ["a/b:1", "c:2"],
    runtime: "docker",
    labels: { k: "v=w" },
  });
  expect(parseImageArgs(["--manifest", "ghcr.io/o/llm-proxy:1.0.0"]).manifest).toBe("ghcr.io/o/llm-proxy:1.0.0");
  expect(() => parseImageArgs(["--arch", "x86"])).toThrow('--arch is amd64 or arm64, not "x86"');
  expect(() => parseImageArgs(["--tag"])).toThrow("--tag needs a value");
});

describe("docs/compose.yaml", () => {
  const compose = parse(readFileSync(join(root, "docs/compose.yaml"), "utf8"), { merge: true }) as {
    services: Record<string, { image?: string; volumes?: string[]; environment?: Record<string, string>; stop_grace_period?: string }>;
  };
  const proxies = Object.entries(compose.services).filter(([name]) => name.startsWith("llm-proxy"));

  test("is the compose file docs/container.md shows", () => {
    const doc = readFileSync(join(root, "docs/container.md"), "utf8");
    const block = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes("services:"));
    expect(parse(block!, { merge: true })).toEqual(compose);
  });

  test("runs two instances of the image bun run image tags, with the config folder and Redis", () => {
    expect(proxies.length).toBe(2);
    for (const [, service] of proxies) {
      expect(service.image).toBe(`\${LLM_PROXY_IMAGE:-${IMAGE}:latest}`);
      expect(defaultTags()).toContain(`${IMAGE}:latest`);
      expect(service.volumes).toEqual(["./config:/etc/llm-proxy:ro"]);
      expect(service.environment?.REDIS_URL).toBe("redis://redis:6379/0");
      expect(Number.parseInt(service.stop_grace_period!)).toBeGreaterThan(30);
    }
    expect(compose.services.redis).toBeDefined();
  });
});
