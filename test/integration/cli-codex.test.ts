import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CliWorld, nativeBinary, PROXY_KEY } from "../helpers/cli-world.ts";
import { dig } from "../helpers/one-protocol.ts";
import { netnsMissing } from "../helpers/netns.ts";

/**
 * The real Codex CLI (the pinned @openai/codex devDependency), `codex exec`, with a
 * custom provider pointed at the proxy over the Responses API, in front of a
 * Chat-only fake that first calls a tool and then answers with text. Everything —
 * the fake, the proxy, Codex — runs inside a network namespace of the test's own
 * with only loopback, so Codex cannot reach anything else; its HOME and CODEX_HOME
 * are temporary folders.
 */

const codex = nativeBinary("codex");
const missing = netnsMissing ?? ("missing" in codex ? codex.missing : undefined);
if (missing && process.env.CI !== "true") console.warn(`Codex CLI test skipped: ${missing}`);
// Under CI=true a missing prerequisite is not a skip: the test runs and fails saying what is missing.
const maybe = missing === undefined || process.env.CI === "true" ? describe : describe.skip;

/** Codex's config: the proxy as the provider, nothing sent anywhere else, no retries that could hide a failure. */
const codexConfig = (proxyUrl: string) => `
model = "coder"
model_provider = "llm-proxy"
approval_policy = "never"
sandbox_mode = "read-only"
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
});
