import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { parseConfig } from "../src/config/load.ts";
import { main, parseArgs, USAGE, UsageError } from "../src/main.ts";
import { startupSummary } from "../src/serve.ts";

const ROOT = join(import.meta.dir, "..");
const MAIN = join(ROOT, "src", "main.ts");
const EXAMPLE = join(ROOT, "test", "fixtures", "original-config.example.yaml");

const dir = mkdtempSync(join(tmpdir(), "llm-proxy-main-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function file(text: string, name = `config-${++files}.yaml`): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const WARNINGS_ONLY = `
backends:
  - {name: b, url: "http://127.0.0.1:9/v1"}
models:
  m:
    routes:
      - {backend: b, model: x}
      - {backend: ghost, model: x}
colour: blue
`;
const WITH_ERRORS = `${WARNINGS_ONLY}fallback:\n  max_retries: "three"\n  cooldown_seconds: soon\n`;

/** Runs main() in this process with stdout and stderr captured. */
async function runMain(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const text = (chunk: string | Uint8Array) => (typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk));
  const { write: stdoutWrite } = process.stdout;
  const { write: stderrWrite } = process.stderr;
  process.stdout.write = ((chunk: string | Uint8Array) => ((out += text(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((err += text(chunk)), true)) as typeof process.stderr.write;
  try {
    return { code: await main(argv), out, err };
  } finally {
    process.stdout.write = stdoutWrite;
    process.stderr.write = stderrWrite;
  }
}

/** Runs `bun run src/main.ts ...args` as a real process and waits for it to exit. */
async function runProcess(args: string[], cwd = ROOT): Promise<{ code: number; out: string; err: string }> {
  const proc = Bun.spawn([process.execPath, "run", MAIN, ...args], { cwd, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out, err };
}

describe("parseArgs", () => {
  test("with no arguments it reads config.yaml and serves", () => {
    expect(parseArgs([])).toEqual({ config: "config.yaml", check: false, version: false, help: false });
  });

  test("accepts every form of the config flag: -config x, --config x, -c x, --config=x, -config=x, -c=x", () => {
    for (const argv of [["-config", "x.yaml"], ["--config", "x.yaml"], ["-c", "x.yaml"], ["--config=x.yaml"], ["-config=x.yaml"], ["-c=x.yaml"]]) {
      expect(parseArgs(argv).config).toBe("x.yaml");
    }
  });

  test("keeps an = inside the file name and lets the last config flag win, as Go's flag package does", () => {
    expect(parseArgs(["--config=dir/a=b.yaml"]).config).toBe("dir/a=b.yaml");
    expect(parseArgs(["-config", "a=b.yaml"]).config).toBe("a=b.yaml");
    expect(parseArgs(["-c", "first.yaml", "--config", "second.yaml"]).config).toBe("second.yaml");
  });

  test("reads --check, --version and --help in their single- and double-dash forms", () => {
    for (const flag of ["--check", "-check"]) expect(parseArgs([flag, "-c", "a.yaml"])).toEqual({ config: "a.yaml", check: true, version: false, help: false });
    for (const flag of ["--version", "-version", "-v"]) expect(parseArgs([flag]).version).toBe(true);
    for (const flag of ["--help", "-help", "-h"]) expect(parseArgs([flag]).help).toBe(true);
  });

  test("refuses an unknown flag or a stray argument with a UsageError pointing at --help", () => {
    expect(() => parseArgs(["--bogus"])).toThrow(new UsageError('unknown argument "--bogus"; see llm-proxy --help'));
    expect(() => parseArgs(["config.yaml"])).toThrow(new UsageError('unknown argument "config.yaml"; see llm-proxy --help'));
  });

  test("refuses a config flag without a file name", () => {
    expect(() => parseArgs(["-c"])).toThrow(new UsageError("-c needs a file name, e.g. -c config.yaml"));
    expect(() => parseArgs(["--config="])).toThrow(new UsageError("--config needs a file name, e.g. --config config.yaml"));
  });
});

describe("main, in this process", () => {
  test("--help prints the usage and returns 0", async () => {
    const { code, out, err } = await runMain(["--help"]);
    expect(code).toBe(0);
    expect(out).toBe(USAGE);
    expect(out).toContain("-config, --config, -c FILE");
    expect(err).toBe("");
  });

  test("--version prints the package version and returns 0", async () => {
    const { code, out } = await runMain(["--version"]);
    expect(code).toBe(0);
    expect(out).toStartWith(`llm-proxy ${pkg.version} `);
    expect(out.split("\n")).toHaveLength(2);
  });

  test("an unknown flag prints one line to stderr and returns 2", async () => {
    const { code, out, err } = await runMain(["--verbose"]);
    expect(code).toBe(2);
    expect(out).toBe("");
    expect(err).toBe('llm-proxy: unknown argument "--verbose"; see llm-proxy --help\n');
  });

  test("--check returns 0 with only warnings and prints every one of them and a summary", async () => {
    const path = file(WARNINGS_ONLY);
    const { code, out } = await runMain(["--check", "-c", path]);
    expect(code).toBe(0);
    expect(out).toBe(
      'Routes, in the order they are tried:\n"m":\n  priority 0: b → x\n\n' +
        'warning: colour: unknown key, ignored\nwarning: models.m.routes[1].backend: unknown backend "ghost"; this route is skipped (backends: "b")\n' +
        `${path}: 0 errors, 2 warnings; 1 model served\n`,
    );
  });

  test("--check returns 1 with errors and prints every error and warning", async () => {
    const path = file(WITH_ERRORS);
    const { code, out } = await runMain(["--check", `--config=${path}`]);
    expect(code).toBe(1);
    expect(out).toContain('error: fallback.max_retries: expected a whole number, got "three"\n');
    expect(out).toContain("error: fallback.cooldown_seconds: expected a number, got \"soon\"\n");
    expect(out).toContain("warning: colour: unknown key, ignored\n");
    expect(out).toContain('warning: models.m.routes[1].backend: unknown backend "ghost"; this route is skipped (backends: "b")\n');
    expect(out).toEndWith(`${path}: 2 errors, 2 warnings\n`);
  });

  test("a missing config file is one line on stderr naming the path and config.example.yaml, and returns 1", async () => {
    const path = join(dir, "missing.yaml");
    for (const argv of [["-config", path], ["--check", "-config", path]]) {
      const { code, out, err } = await runMain(argv);
      expect(code).toBe(1);
      expect(out).toBe("");
      expect(err).toBe(`llm-proxy: config file not found: ${path} (start from the example: cp config.example.yaml ${path}, then edit it)\n`);
    }
  });

  test("a config with errors is not served: every problem goes to stderr and main returns 1", async () => {
    const { code, out, err } = await runMain(["-c", file(WITH_ERRORS)]);
    expect(code).toBe(1);
    expect(out).toBe("");
    expect(err).toContain('error: fallback.max_retries: expected a whole number, got "three"\n');
    expect(err).toContain("warning: colour: unknown key, ignored\n");
    expect(err).toEndWith("llm-proxy: not started: the configuration has errors (see above)\n");
  });

  test("the start-up summary names the address, the config, auth, backends, models and warnings", () => {
    const yaml = `
listen: ":8080"
backends:
  - {name: b, url: "http://127.0.0.1:9/v1"}
  - {name: spare, url: "http://127.0.0.1:9/v1", enabled: false}
models:
  m: {routes: [{backend: b, model: x}, {backend: ghost, model: x}]}
  hidden: {enabled: false, routes: [{backend: b, model: x}]}
`;
    const { config } = parseConfig(yaml, "conf.yaml", {});
    expect(config).toBeDefined();
    const lines = startupSummary(config!, "http://0.0.0.0:8080").split("\n");
    expect(lines.slice(0, 5)).toEqual([
      `llm-proxy ${pkg.version} listening on http://0.0.0.0:8080 (every interface)`,
      "  config: conf.yaml",
      "  auth: none (no proxy_api_key)",
      "  backends: b, spare (disabled)",
      "  models: m",
    ]);
    expect(config!.warnings.map(String)).toEqual([
      'listen: ":8080" listens on every network interface and no proxy_api_key is set: anyone who can reach this machine can use your provider keys',
      'models.m.routes[1].backend: unknown backend "ghost"; this route is skipped (backends: "b", "spare")',
    ]);
  });
});

describe("the command line, as a real process", () => {
  test("every form of the config flag reaches the program: -config, --config, -c, --config=", async () => {
    const path = file(WARNINGS_ONLY);
    const forms = [["-config", path], ["--config", path], ["-c", path], [`--config=${path}`], [`-config=${path}`]];
    const results = await Promise.all(forms.map((form) => runProcess(["--check", ...form])));
    for (const { code, out, err } of results) {
      expect(err).toBe("");
      expect(out).toEndWith(`${path}: 0 errors, 2 warnings; 1 model served\n`);
      expect(code).toBe(0);
    }
  });

  test("--check on the original's example exits 0; on a config with errors it exits 1 listing them", async () => {
    const ok = await runProcess(["--check", "-config", EXAMPLE]);
    expect(ok).toEqual({
      code: 0,
      out: `Routes, in the order they are tried:\n"anthropic/claude-sonnet-4":\n  priority 1: primary → claude-sonnet-4\n\n${EXAMPLE}: 0 errors, 0 warnings; 1 model served\n`,
      err: "",
    });
    const bad = await runProcess(["--check", "-config", file(WITH_ERRORS)]);
    expect(bad.code).toBe(1);
    expect(bad.out.match(/^error: /gm)).toHaveLength(2);
    expect(bad.out).toContain("warning: colour: unknown key, ignored\n");
  });

  test("without a config flag it reads config.yaml from the working directory", async () => {
    const cwd = join(dir, "cwd");
    mkdirSync(cwd, { recursive: true });
    writeFileSync(join(cwd, "config.yaml"), WARNINGS_ONLY);
    const { code, out } = await runProcess(["--check"], cwd);
    expect(out).toEndWith("config.yaml: 0 errors, 2 warnings; 1 model served\n");
    expect(code).toBe(0);
  });

  test("a missing config file exits non-zero with one line naming it and config.example.yaml, no stack trace", async () => {
    const path = join(dir, "absent", "config.yaml");
    const { code, out, err } = await runProcess(["-config", path]);
    expect(code).not.toBe(0);
    expect(out).toBe("");
    expect(err.trimEnd().split("\n")).toEqual([`llm-proxy: config file not found: ${path} (start from the example: cp config.example.yaml ${path}, then edit it)`]);
    expect(err).not.toMatch(/^\s+at /m);
  });

  test("--version, --help and an unknown flag exit 0, 0 and 2", async () => {
    const [version, help, unknown] = await Promise.all([runProcess(["--version"]), runProcess(["--help"]), runProcess(["--bogus"])]);
    expect(version.code).toBe(0);
    expect(version.out).toStartWith(`llm-proxy ${pkg.version} `);
    expect(help).toEqual({ code: 0, out: USAGE, err: "" });
    expect(unknown).toEqual({ code: 2, out: "", err: 'llm-proxy: unknown argument "--bogus"; see llm-proxy --help\n' });
  });

  test("serves with a valid config: prints the start-up block, answers /health, and stops on SIGTERM", async () => {
    const key = "sk-proxy-secret-key-0123456789abcdef";
    const path = file(`listen: "127.0.0.1:0"\nproxy_api_key: ${key}\n${WARNINGS_ONLY}`);
    const proc = Bun.spawn([process.execPath, "run", MAIN, "-config", path], { cwd: dir, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
    const reader = proc.stdout.getReader();
    const decoder = new TextDecoder();
    let out = "";
    /** Reads stdout until `done()` holds, the output ends, or 15 s pass (then fails, showing the output so far). */
    const readUntil = async (done: () => boolean) => {
      const deadline = Date.now() + 15_000;
      while (!done()) {
        let timer: Timer | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no expected output within 15 s; stdout so far:\n${out}`)), Math.max(0, deadline - Date.now()));
        });
        const chunk = await Promise.race([reader.read(), timeout]).finally(() => clearTimeout(timer));
        if (chunk.done) break;
        out += decoder.decode(chunk.value, { stream: true });
      }
    };
    try {
      const warnings = ["colour: unknown key, ignored", 'models.m.routes[1].backend: unknown backend "ghost"; this route is skipped (backends: "b")'];
      await readUntil(() => warnings.every((w) => out.includes(`${w}\n`)));
      const url = /\[INFO\] llm-proxy \S+ listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(out)?.[1];
      expect(url).toBeDefined();
      expect(out).toMatch(/^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\] \[INFO\] llm-proxy /);
      for (const line of [`  config: ${path}`, "  auth: proxy key required", "  backends: b", "  models: m"]) {
        expect(out).toContain(`[INFO] ${line}\n`);
      }
      expect(out).not.toContain(key);
      const res = await fetch(`${url}/health`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("ok");
      proc.kill("SIGTERM");
      await readUntil(() => false);
      expect(await proc.exited).toBe(0);
      expect(out).toContain("[INFO] SIGTERM received; no new connections\n");
    expect(out).toContain("[INFO] stopped\n");
    } finally {
      proc.kill();
      await proc.exited;
    }
  }, 30_000);
});
