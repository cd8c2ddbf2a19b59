import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CliWorld, nativeBinary, PROXY_KEY } from "../helpers/cli-world.ts";
import { dig } from "../helpers/one-protocol.ts";
import { netnsMissing } from "../helpers/netns.ts";
import { optionalTool } from "../helpers/tools.ts";

/**
 * The real Claude Code (the pinned @anthropic-ai/claude-code devDependency) in print
 * mode, `claude -p`, with ANTHROPIC_BASE_URL at the proxy and the alias as its model,
 * in front of a Chat-only fake that first calls the Read tool and then answers with
 * text. The fake, the proxy and Claude Code run inside a network namespace of the
 * test's own with only loopback; telemetry and non-essential traffic are off; HOME
 * and CLAUDE_CONFIG_DIR are temporary folders.
 */

const claude = nativeBinary("claude");
// Outside CI a missing prerequisite skips, named in the list at the end of the run; under CI=true the test runs and fails saying what is missing.
const maybe = (
  netnsMissing !== undefined
    ? optionalTool("ip netns", false, netnsMissing, "the real Claude Code (claude -p) through the proxy to a Chat-only provider")
    : optionalTool("claude", "path" in claude, "missing" in claude ? claude.missing : "bun install (the @anthropic-ai/claude-code devDependency)", "the real Claude Code (claude -p) through the proxy to a Chat-only provider")
).describe;

function claudeEnv(world: CliWorld): Record<string, string> {
  const config = join(world.home, ".claude");
  mkdirSync(config, { recursive: true });
  return {
    CLAUDE_CONFIG_DIR: config,
    ANTHROPIC_BASE_URL: world.proxyUrl,
    ANTHROPIC_API_KEY: PROXY_KEY,
    ANTHROPIC_MODEL: "coder",
    // Background requests (titles, summaries) use the small model: the alias too.
    ANTHROPIC_SMALL_FAST_MODEL: "coder",
    ANTHROPIC_DEFAULT_HAIKU_MODEL: "coder",
    DISABLE_TELEMETRY: "1",
    DISABLE_ERROR_REPORTING: "1",
    DISABLE_AUTOUPDATER: "1",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    // No retries: a failure must show as one, and a retry would wait out the proxy's Retry-After.
    CLAUDE_CODE_MAX_RETRIES: "0",
  };
}

const bin = "path" in claude ? claude.path : "claude";

maybe("Claude Code through the proxy to a Chat-only provider", () => {
  test("claude -p runs the Read tool the model calls, sends the file back, and prints the final text; count_tokens gets the proxy's estimate", async () => {
    const secret = `kiwi-${crypto.randomUUID().slice(0, 8)}`;
    const finalText = `The file says ${secret}.`;
    await using world = await CliWorld.start({ tools: { Read: { file_path: "{work}/secret.txt" } }, finalText }, "max_tokens: 4096");
    writeFileSync(join(world.work, "secret.txt"), `${secret}\n`);
    const env = claudeEnv(world);

    const started = performance.now();
    // In print mode a tool runs only when allowed: Read, nothing else.
    const turn = world.run("claude", [bin, "-p", "What is in secret.txt?", "--allowedTools", "Read", "--output-format", "text"], env);
    const code = await turn.exit(50_000);
    console.log(`claude -p took ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const context = `\n${world.output}`;
    expect(code, context).toBe(0);
    expect(turn.stdout.trim(), context).toBe(finalText);

    const turns = world.records().filter((r) => r.answer !== "side");
    expect(turns.map((r) => [r.path, r.answer, r.tool]), context).toEqual([
      ["/v1/chat/completions", "tool_call", "Read"],
      ["/v1/chat/completions", "final", undefined],
    ]);
    // Claude Code asks 32k+ output tokens of every model; the route's max_tokens lowered it.
    expect(dig(turns[0]!.body, "max_tokens")).toBe(4096);
    expect(dig(turns[0]!.body, "stream_options")).toEqual({ include_usage: true });
    const result = (dig(turns[1]!.body, "messages") as unknown[]).find((m) => dig(m, "role") === "tool");
    expect(dig(result, "tool_call_id")).toBe("call_cli_1");
    expect(String(dig(result, "content"))).toContain(secret);

    // /context counts tokens: every count_tokens call is answered by the proxy's estimate, none reaches the provider.
    const before = world.records().length;
    const context2 = world.run("claude", [bin, "-p", "/context", "--output-format", "text"], env);
    expect(await context2.exit(50_000), `\n${world.output}`).toBe(0);
    expect(context2.stdout).toContain("Context Usage");
    expect(world.records().length).toBe(before);

    // The proxy saw Claude Code's own URLs, query included, and served every one.
    const files = await world.waitForRequestFiles(3);
    const lines = files.map((f) => f.split("\n")[1]!);
    const messages = lines.filter((l) => l.startsWith("POST /v1/messages?beta=true model=coder"));
    const counts = lines.filter((l) => l.startsWith("POST /v1/messages/count_tokens?beta=true model=coder"));
    expect(messages.length, lines.join("\n")).toBeGreaterThanOrEqual(2);
    expect(counts.length, lines.join("\n")).toBeGreaterThanOrEqual(1);
    expect(files.filter((f) => !f.includes("result: served, status 200")), lines.join("\n")).toEqual([]);
  }, 60_000);

  test("claude -p with the model's thinking: reasoning_content becomes thinking Claude Code shows and sends back; an allowed Bash command runs", async () => {
    const secret = `fig-${crypto.randomUUID().slice(0, 8)}`;
    const reasoning = "The file will tell; cat shows it.";
    await using world = await CliWorld.start({ tools: { Bash: { command: "cat secret.txt", description: "Show the file" } }, finalText: `It says ${secret}.`, reasoning }, "max_tokens: 4096");
    writeFileSync(join(world.work, "secret.txt"), `${secret}\n`);
    const run = world.run("claude", [bin, "-p", "What is in secret.txt?", "--allowedTools", "Bash(cat:*)", "--output-format", "stream-json", "--verbose"], claudeEnv(world));
    const code = await run.exit(50_000);
    const context = `\n${world.output}`;
    expect(code, context).toBe(0);
    const events = run.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as unknown);
    const blocks = events.filter((e) => dig(e, "type") === "assistant").flatMap((e) => dig(e, "message", "content") as unknown[]);
    expect(blocks.filter((b) => dig(b, "type") === "thinking").map((b) => dig(b, "thinking"))).toContain(reasoning);
    const result = events.find((e) => dig(e, "type") === "result");
    expect(dig(result, "subtype"), context).toBe("success");
    expect(dig(result, "result")).toBe(`It says ${secret}.`);

    const turns = world.records().filter((r) => r.answer !== "side");
    expect(turns.map((r) => [r.answer, r.tool]), context).toEqual([
      ["tool_call", "Bash"],
      ["final", undefined],
    ]);
    // Claude Code's adaptive thinking asked for reasoning; its history carried the thinking back.
    expect(dig(turns[0]!.body, "reasoning_effort")).toBeDefined();
    const messages = dig(turns[1]!.body, "messages") as unknown[];
    expect(dig(messages.find((m) => dig(m, "role") === "assistant"), "reasoning_content")).toBe(reasoning);
    expect(String(dig(messages.find((m) => dig(m, "role") === "tool"), "content"))).toContain(secret);
  }, 60_000);

  test("a final answer cut mid-stream: claude -p fails with an API error, and the partial text is not its answer", async () => {
    await using world = await CliWorld.start({ tools: { Read: { file_path: "{work}/secret.txt" } }, finalText: "THE-WHOLE-ANSWER-NEVER-SENT", cutFinal: true }, "max_tokens: 4096");
    writeFileSync(join(world.work, "secret.txt"), "anything\n");
    const run = world.run("claude", [bin, "-p", "What is in secret.txt?", "--allowedTools", "Read", "--output-format", "text"], claudeEnv(world));
    const code = await run.exit(50_000);
    const context = `\n${world.output}`;
    expect(code, context).not.toBe(0);
    expect(run.stdout, context).toContain("API Error");
    expect(run.stdout, context).not.toContain("THE-WHOLE");
    // The cut cooled the pair: a second request Claude Code makes after a broken stream gets the proxy's 503, not the provider.
    expect(world.records().map((r) => r.answer)).toEqual(["tool_call", "final"]);
  }, 60_000);
});
