import { describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CliWorld, nativeBinary, PROXY_KEY } from "../helpers/cli-world.ts";
import { dig } from "../helpers/one-protocol.ts";
import { netnsMissing } from "../helpers/netns.ts";
import { optionalTool } from "../helpers/tools.ts";

/**
 * The real Codex CLI (the pinned @openai/codex devDependency), `codex exec`, with a
 * custom provider pointed at the proxy over the Responses API, in front of a
 * Chat-only fake that first calls a tool and then answers with text. Everything —
 * the fake, the proxy, Codex — runs inside a network namespace of the test's own
 * with only loopback, so Codex cannot reach anything else; its HOME and CODEX_HOME
 * are temporary folders.
 */

const codex = nativeBinary("codex");
// Outside CI a missing prerequisite skips, named in the list at the end of the run; under CI=true the test runs and fails saying what is missing.
const maybe = (
  netnsMissing !== undefined
    ? optionalTool("ip netns", false, netnsMissing, "the real Codex CLI (codex exec) through the proxy to a Chat-only provider")
    : optionalTool("codex", "path" in codex, "missing" in codex ? codex.missing : "bun install (the @openai/codex devDependency)", "the real Codex CLI (codex exec) through the proxy to a Chat-only provider")
).describe;

/** Codex's config: the proxy as the provider, nothing sent anywhere else, no retries that could hide a failure. */
const codexConfig = (proxyUrl: string, model = "coder", sandbox = "read-only") => `
model = "${model}"
model_provider = "llm-proxy"
approval_policy = "never"
sandbox_mode = "${sandbox}"
check_for_update_on_startup = false

[analytics]
enabled = false

[otel]
exporter = "none"

[history]
persistence = "none"

[model_providers.llm-proxy]
name = "llm-proxy"
base_url = "${proxyUrl}/v1"
wire_api = "responses"
env_key = "LLM_PROXY_KEY"
request_max_retries = 0
stream_max_retries = 0
supports_websockets = false
`;

maybe("Codex CLI through the proxy to a Chat-only provider", () => {
  test("codex exec runs the tool the model calls, sends its output back, and prints the final text", async () => {
    const secret = `banana-${crypto.randomUUID().slice(0, 8)}`;
    const finalText = `The file says ${secret}.`;
    await using world = await CliWorld.start({ tools: { exec_command: { cmd: "cat secret.txt" }, shell: { command: ["cat", "secret.txt"] } }, finalText });
    writeFileSync(join(world.work, "secret.txt"), `${secret}\n`);
    const codexHome = join(world.home, ".codex");
    mkdirSync(codexHome, { recursive: true });
    writeFileSync(join(codexHome, "config.toml"), codexConfig(world.proxyUrl));

    const started = performance.now();
    const run = world.run("codex", ["path" in codex ? codex.path : "codex", "exec", "--skip-git-repo-check", "--color", "never", "What is in secret.txt?"], {
      CODEX_HOME: codexHome,
      LLM_PROXY_KEY: PROXY_KEY,
    });
    const code = await run.exit(50_000);
    const seconds = (performance.now() - started) / 1000;
    console.log(`codex exec took ${seconds.toFixed(1)} s`);

    const context = `\n${world.output}`;
    expect(code, context).toBe(0);
    expect(run.stdout.trim(), context).toBe(finalText);

    const records = world.records();
    expect(records.map((r) => [r.path, r.answer]), context).toEqual([
      ["/v1/chat/completions", "tool_call"],
      ["/v1/chat/completions", "final"],
    ]);
    // Codex's Responses request arrived as a streamed Chat request, usage asked for.
    expect(dig(records[0]!.body, "stream")).toBe(true);
    expect(dig(records[0]!.body, "stream_options")).toEqual({ include_usage: true });
    expect(dig(records[0]!.body, "model")).toBe("fake-chat-model");
    // The command really ran: its output travelled back as the tool's result, with the call's id.
    const messages = dig(records[1]!.body, "messages") as unknown[];
    const result = messages.find((m) => dig(m, "role") === "tool");
    expect(dig(result, "tool_call_id")).toBe("call_cli_1");
    expect(String(dig(result, "content"))).toContain(secret);
    // Each turn was a POST /v1/responses to the proxy, served by the translating route.
    const files = await world.waitForRequestFiles(2);
    expect(files.filter((f) => f.includes("POST /v1/responses model=coder stream")).length, files.join("\n")).toBe(2);
    expect(files.every((f) => f.includes("result: served, status 200")), files.join("\n")).toBe(true);
  }, 60_000);

  test("an alias named like a model Codex knows: its freeform apply_patch tool and the model's reasoning make the round trip, and the file is written", async () => {
    // Codex offers apply_patch (a custom tool: free text, not JSON) only to models it knows.
    const patch = "*** Begin Patch\n*** Add File: hello.txt\n+hello from the patch\n*** End Patch\n";
    const reasoning = "The user wants the file; a patch adds it.";
    await using world = await CliWorld.start({ tools: { apply_patch: { input: patch } }, finalText: "Created hello.txt.", reasoning }, "", "gpt-5.5");
    const codexHome = join(world.home, ".codex");
    mkdirSync(codexHome, { recursive: true });
    writeFileSync(join(codexHome, "config.toml"), codexConfig(world.proxyUrl, "gpt-5.5", "workspace-write"));

    const started = performance.now();
    const run = world.run("codex", ["path" in codex ? codex.path : "codex", "exec", "--skip-git-repo-check", "--color", "never", "Create hello.txt"], { CODEX_HOME: codexHome, LLM_PROXY_KEY: PROXY_KEY });
    const code = await run.exit(50_000);
    console.log(`codex exec (apply_patch) took ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const context = `\n${world.output}`;
    expect(code, context).toBe(0);
    expect(run.stdout.trim(), context).toBe("Created hello.txt.");
    expect(readFileSync(join(world.work, "hello.txt"), "utf8")).toBe("hello from the patch\n");

    const [asked, final] = world.records();
    // The custom tool reached the Chat provider as a function of one string, `input`.
    const tool = (dig(asked!.body, "tools") as unknown[]).find((t) => dig(t, "function", "name") === "apply_patch");
    expect(dig(tool, "function", "parameters", "properties", "input", "type")).toBe("string");
    expect(dig(asked!.body, "reasoning_effort")).toBe("medium");
    // Codex sent its history back: the reasoning, the call (as the provider made it) and the patch's result.
    const messages = dig(final!.body, "messages") as unknown[];
    const assistant = messages.find((m) => dig(m, "role") === "assistant");
    expect(dig(assistant, "reasoning_content")).toBe(reasoning);
    expect(dig(assistant, "tool_calls", 0, "function")).toEqual({ name: "apply_patch", arguments: JSON.stringify({ input: patch }) });
    const result = messages.find((m) => dig(m, "role") === "tool");
    expect(String(dig(result, "content"))).toContain("hello.txt");
  }, 60_000);

  test("a final answer cut mid-stream: Codex reports the cut and fails, and never prints the partial answer as its answer", async () => {
    await using world = await CliWorld.start({ tools: { exec_command: { cmd: "true" } }, finalText: "THE-WHOLE-ANSWER-NEVER-SENT", cutFinal: true });
    const codexHome = join(world.home, ".codex");
    mkdirSync(codexHome, { recursive: true });
    writeFileSync(join(codexHome, "config.toml"), codexConfig(world.proxyUrl));
    const run = world.run("codex", ["path" in codex ? codex.path : "codex", "exec", "--skip-git-repo-check", "--color", "never", "Run true, then answer."], { CODEX_HOME: codexHome, LLM_PROXY_KEY: PROXY_KEY });
    const code = await run.exit(50_000);
    const context = `\n${world.output}`;
    expect(code, context).not.toBe(0);
    expect(run.stdout, context).not.toContain("THE-WHOLE");
    // The proxy's response.failed reached Codex with its reason.
    expect(run.stderr, context).toContain("the provider's stream was cut after it started");
    expect(world.records().map((r) => r.answer)).toEqual(["tool_call", "final"]);
  }, 60_000);
});
