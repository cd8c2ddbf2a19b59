import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { build, fileName, hostTarget } from "../scripts/build.ts";
import { chatChunk, chatCompletion, FakeProvider } from "./helpers/fake-provider.ts";
import { expectStreamsAtOnce, heldStreamsConfig } from "./helpers/many-streams.ts";
import { waitForListening } from "./helpers/proxy-process.ts";

/**
 * The compiled executable, as a user runs it: built for this machine, started from
 * an empty folder (no node_modules, no bunfig.toml) with a config beside it.
 */
describe("the single executable", () => {
  const work = mkdtempSync(join(tmpdir(), "llm-proxy-binary-"));
  const exe = join(work, fileName(hostTarget()));
  const run = mkdtempSync(join(tmpdir(), "llm-proxy-run-"));
  let proc: ReturnType<typeof Bun.spawn> | undefined;
  let address = "";
  const provider = new FakeProvider(async (req) => {
    const body = JSON.parse(req.text) as { stream?: boolean; model: string };
    if (!body.stream) return Response.json(chatCompletion("hi from the fake", body.model));
    return new Response(`${chatChunk("one")}${chatChunk("two")}data: [DONE]\n\n`, { headers: { "content-type": "text/event-stream" } });
  });

  beforeAll(async () => {
    await build(hostTarget(), { outfile: exe });
    writeFileSync(
      join(run, "config.yaml"),
      `listen: "127.0.0.1:0"
proxy_api_key: "sk-binary-test-key-123456"
backends:
  - name: fake
    url: "${provider.url}/v1"
    api_key: "sk-fake-backend-key-0000"
models:
  "m":
    routes:
      - backend: fake
        model: real-m
`,
    );
    // A bunfig.toml and .env in the working folder must not be read by the binary.
    writeFileSync(join(run, "bunfig.toml"), `preload = ["./nope.ts"]\n`);
    writeFileSync(join(run, ".env"), "LLM_PROXY_TEST_DOTENV=loaded\n");
    const started = Bun.spawn([exe], { cwd: run, stdout: "pipe", stderr: "pipe" });
    proc = started;
    const { url, reader } = await waitForListening(started);
    address = url;
    reader.releaseLock();
  }, 120_000);

  afterAll(async () => {
    proc?.kill();
    await provider.server.stop(true);
    rmSync(work, { recursive: true, force: true });
    rmSync(run, { recursive: true, force: true });
  });

  const auth = { authorization: "Bearer sk-binary-test-key-123456", "content-type": "application/json" };

  test("answers /health", async () => {
    const res = await fetch(`${address}/health`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("ok");
  });

  test("proxies a non-streaming request with the route's model and key", async () => {
    const res = await fetch(`${address}/v1/chat/completions`, { method: "POST", headers: auth, body: JSON.stringify({ model: "m", messages: [] }) });
    expect(res.status).toBe(200);
    const completion = (await res.json()) as { choices: { message: { content: string } }[] };
    expect(completion.choices[0]!.message.content).toBe("hi from the fake");
    const seen = provider.received.at(-1)!;
    expect(JSON.parse(seen.text).model).toBe("real-m");
    expect(seen.headers.get("authorization")).toBe("Bearer sk-fake-backend-key-0000");
  });

  test("proxies a streamed request to its end", async () => {
    const res = await fetch(`${address}/v1/chat/completions`, { method: "POST", headers: auth, body: JSON.stringify({ model: "m", stream: true }) });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const text = await res.text();
    expect(text).toContain('"content":"one"');
    expect(text).toContain('"content":"two"');
    expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
  });

  const runOnce = async (args: string[]) => {
    const p = Bun.spawn([exe, ...args], { cwd: run, stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { stdout, stderr, code };
  };

  test("--version prints the version and the commit", async () => {
    const { stdout, code } = await runOnce(["--version"]);
    expect(code).toBe(0);
    expect(stdout).toMatch(new RegExp(`^llm-proxy ${pkg.version.replaceAll(".", "\\.")} \\((?:[0-9a-f]{7,}|unknown)\\)\\n$`));
  });

  test("--check validates the config beside it", async () => {
    const { stdout, code } = await runOnce(["--check", "-config", "config.yaml"]);
    expect(code).toBe(0);
    expect(stdout).toContain("config.yaml: 0 errors, 0 warnings; 1 model served");
  });

  test("started without BUN_CONFIG_MAX_HTTP_REQUESTS, it holds 400 streams at once, every one at the provider", async () => {
    const env = { ...process.env };
    delete env.BUN_CONFIG_MAX_HTTP_REQUESTS;
    await expectStreamsAtOnce(400, async (providerUrl) => {
      const dir = mkdtempSync(join(tmpdir(), "llm-proxy-held-"));
      writeFileSync(join(dir, "config.yaml"), heldStreamsConfig(providerUrl));
      const p = Bun.spawn([exe, "-config", "config.yaml"], { cwd: dir, env, stdout: "pipe", stderr: "inherit" });
      const reader = (p.stdout as ReadableStream<Uint8Array>).getReader();
      let out = "";
      while (!/listening on http:\/\/127\.0\.0\.1:(\d+)/.test(out)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the executable exited:\n${out}`);
        out += new TextDecoder().decode(value);
      }
      // Keep reading, so the executable never blocks on a full pipe.
      void (async () => {
        while (!(await reader.read()).done);
      })();
      return {
        port: Number(/listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)![1]),
        async [Symbol.asyncDispose]() {
          p.kill();
          await p.exited;
          rmSync(dir, { recursive: true, force: true });
        },
      };
    });
  }, 60_000);

  test("a missing config file is one clear line naming the path and the example", async () => {
    const { stderr, stdout, code } = await runOnce(["-config", "missing.yaml"]);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toBe(`llm-proxy: config file not found: ${join(run, "missing.yaml")} (start from the example: cp config.example.yaml missing.yaml, then edit it)\n`);
  });
});
