import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseConfig } from "../src/config/load.ts";
import { configSchema } from "../src/config/schema.ts";
import { schemaKeyPaths } from "../src/config/unknown-keys.ts";
import { optionalTool } from "./helpers/tools.ts";

const curlTool = optionalTool("curl", Bun.which("curl") !== null, "apt-get install curl", "the README's curl examples work as written");

const root = join(import.meta.dir, "..");
const readme = await Bun.file(join(root, "README.md")).text();

/** Fenced code blocks of one language, in order. */
function blocks(lang: string): string[] {
  return [...readme.matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]!);
}

describe("the configuration reference (docs/configuration.md)", () => {
  const reference = readFileSync(join(root, "docs", "configuration.md"), "utf8");

  test("lists every key the schema knows, each in its own row", () => {
    const missing = schemaKeyPaths(configSchema).filter((key) => !reference.includes(`| \`${key}\` |`));
    expect(missing).toEqual([]);
  });

  test("lists no key the schema does not know", () => {
    const rows = [...reference.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!);
    const known = new Set(schemaKeyPaths(configSchema));
    expect(rows.length).toBeGreaterThan(20);
    expect(rows.filter((key) => !known.has(key))).toEqual([]);
  });
});

describe("the configuration examples of the README and docs/", () => {
  const pages = ["README.md", ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => join("docs", f))];
  const examples = pages.flatMap((page) =>
    [...readFileSync(join(root, page), "utf8").matchAll(/```yaml\n([\s\S]*?)```/g)].map((m, i) => ({ page, i, yaml: m[1]! })).filter((e) => !/^\s*(services|x-llm-proxy):/m.test(e.yaml)),
  );

  test("there are examples to check", () => {
    expect(examples.length).toBeGreaterThan(5);
  });

  for (const e of examples) {
    test(`${e.page}, example ${e.i + 1}, is a configuration llm-proxy accepts`, () => {
      // Every ${NAME} it names is set, as the reader would set it.
      const value = (name: string) => (name.startsWith("REDIS") ? "redis://127.0.0.1:6379/0" : name.endsWith("_URL") ? "postgres://u:p@127.0.0.1:5432/db" : "value-0123456789abcdef");
      const env = Object.fromEntries([...e.yaml.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => [m[1]!, value(m[1]!)]));
      const { config, problems } = parseConfig(e.yaml, `${e.page}#${e.i + 1}`, env);
      expect(problems.filter((p) => p.severity === "error").map(String)).toEqual([]);
      expect(config).toBeDefined();
    });
  }
});

describe("what the README says to create is kept out of git", () => {
  test("config.yaml, where the README says to put keys, and data/, where the usage database goes, are ignored", () => {
    expect(readme).toContain("cp config.example.yaml config.yaml");
    const proc = Bun.spawnSync(["git", "check-ignore", "--no-index", "config.yaml", "data/usage.sqlite", "config.example.yaml"], { cwd: root });
    expect(proc.stdout.toString().split("\n").filter(Boolean)).toEqual(["config.yaml", "data/usage.sqlite"]);
  });
});

describe("the README's client examples, run against the demo", () => {
  let demo: ReturnType<typeof Bun.spawn> | undefined;
  let address = "";

  beforeAll(async () => {
    demo = Bun.spawn(["bun", "run", "scripts/demo.ts", "--port", "0"], { cwd: root, stdout: "pipe", stderr: "pipe" });
    const reader = (demo.stdout as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let out = "";
    const deadline = Date.now() + 20_000;
    while (!/llm-proxy at (http:\/\/127\.0\.0\.1:\d+)/.test(out)) {
      if (Date.now() > deadline) throw new Error(`demo did not start:\n${out}`);
      const { value, done } = await reader.read();
      if (done) throw new Error(`demo exited:\n${out}\n${await new Response(demo.stderr as ReadableStream).text()}`);
      out += decoder.decode(value, { stream: true });
    }
    address = /llm-proxy at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;
    reader.releaseLock();
  });

  afterAll(() => {
    demo?.kill();
  });

  const run = async (cmd: string[]) => {
    const proc = Bun.spawn(cmd, { cwd: root, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { stdout, stderr, code };
  };
  const localize = (code: string) => code.replaceAll("http://127.0.0.1:8080", address);

  test.skipIf(!curlTool.run)("the streaming chat completion curl streams the healthy provider's answer to the end", async () => {
    const curl = blocks("bash").find((b) => b.includes("/v1/chat/completions") && b.startsWith("curl"))!;
    const { stdout, code } = await run(["sh", "-c", `${localize(curl).trim()} -sS -N --fail-with-body`]);
    expect(code).toBe(0);
    expect(stdout).toContain('"model":"steady-model"');
    expect(stdout.trimEnd().endsWith("data: [DONE]")).toBe(true);
  });

  test.skipIf(!curlTool.run)("the Anthropic messages curl gets a message", async () => {
    const curl = blocks("bash").find((b) => b.includes("/v1/messages") && b.startsWith("curl"))!;
    const { stdout, code } = await run(["sh", "-c", `${localize(curl).trim()} -sS --fail-with-body`]);
    expect(code).toBe(0);
    const message = JSON.parse(stdout);
    expect(message.type).toBe("message");
    expect(message.content[0].text).toContain("You said: Hello");
  });

  test.skipIf(!curlTool.run)("the models curl lists the demo model", async () => {
    const curl = blocks("bash").find((b) => b.trim().startsWith("curl") && b.includes("/v1/models"))!;
    const { stdout, code } = await run(["sh", "-c", `${localize(curl).trim()} -sS --fail-with-body`]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout).data.map((m: { id: string }) => m.id)).toEqual(["demo-model"]);
  });

  test("the OpenAI SDK example streams the answer", async () => {
    const example = blocks("ts").find((b) => b.includes('from "openai"'))!;
    const code = localize(example).replace("new OpenAI({", "new OpenAI({ maxRetries: 0,");
    const result = await run(["bun", "-e", code]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Hello from the demo provider "healthy"');
  });

  test("the Anthropic SDK example gets a message", async () => {
    const example = blocks("ts").find((b) => b.includes('from "@anthropic-ai/sdk"'))!;
    const code = localize(example).replace("new Anthropic({", "new Anthropic({ maxRetries: 0,");
    const result = await run(["bun", "-e", code]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("You said: Hello");
  });
});
