import Anthropic from "@anthropic-ai/sdk";
import type { Subprocess } from "bun";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { startDemoProvider } from "../scripts/demo-providers.ts";

/** The demo's key, as the README gives it (scripts/demo.ts cannot be imported: it runs the demo). */
const DEMO_KEY = "sk-demo-0123456789abcdef";

const ROOT = join(import.meta.dir, "..");
const AUTH = { authorization: `Bearer ${DEMO_KEY}` };

interface Demo {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  url: string;
  banner: string;
  /** TMPDIR of the demo: its config folder is made in here. */
  tmp: string;
  output: () => string;
}

/** `bun run scripts/demo.ts` with its own TMPDIR; resolves once the banner is out, or when the demo exits. */
async function startDemo(args: string[] = ["--port", "0"]): Promise<Demo & { exited?: number }> {
  const tmp = mkdtempSync(join(tmpdir(), "llm-proxy-demo-test-"));
  const proc = Bun.spawn([process.execPath, "run", "scripts/demo.ts", ...args], { cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, TMPDIR: tmp } });
  let out = "";
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  const deadline = Date.now() + 20_000;
  while (!/Press Ctrl\+C to stop/.test(out)) {
    if (Date.now() > deadline) throw new Error(`the demo did not start:\n${out}`);
    const { value, done } = await reader.read();
    if (done) return { proc, url: "", banner: out, tmp, output: () => out, exited: await proc.exited };
    out += decoder.decode(value, { stream: true });
  }
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      out += decoder.decode(value, { stream: true });
    }
  })();
  const url = /llm-proxy at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;
  return { proc, url, banner: out, tmp, output: () => out };
}

const chat = (url: string) => fetch(`${url}/v1/chat/completions`, { method: "POST", headers: { ...AUTH, "content-type": "application/json" }, body: JSON.stringify({ model: "demo-model", messages: [{ role: "user", content: "Hi" }] }) });

const WEATHER = {
  name: "get_weather",
  description: "The weather in a city",
  schema: { type: "object", properties: { city: { type: "string" }, unit: { type: "string", enum: ["celsius", "fahrenheit"] }, days: { type: "integer" } }, required: ["city"] },
};
const DEMO_ARGS = { city: "demo", unit: "celsius", days: 1 };

describe("the demo, as a user runs it", () => {
  let demo: Demo;
  beforeAll(async () => {
    demo = await startDemo();
  });
  afterAll(async () => {
    demo.proc.kill();
    await demo.proc.exited;
    rmSync(demo.tmp, { recursive: true, force: true });
  });

  test("the first request meets the rate-limited provider and falls back; the next goes straight to the healthy one, for the 10 s cooldown", async () => {
    const first = await chat(demo.url);
    expect(first.status).toBe(200);
    expect(first.headers.get("x-llm-proxy-backend")).toBe("healthy");
    expect(first.headers.get("x-llm-proxy-attempts")).toBe("2");
    const second = await chat(demo.url);
    expect(second.headers.get("x-llm-proxy-backend")).toBe("healthy");
    expect(second.headers.get("x-llm-proxy-attempts")).toBe("1");

    // The README's sentence: cooled down for the demo's cooldown_seconds, not for a longer Retry-After.
    const status = (await (await fetch(`${demo.url}/status`, { headers: AUTH })).json()) as { cooldowns: { backend: string; seconds_left: number }[] };
    expect(status.cooldowns.map((c) => c.backend)).toEqual(["always-rate-limited"]);
    expect(status.cooldowns[0]!.seconds_left).toBeLessThanOrEqual(10);
    expect(status.cooldowns[0]!.seconds_left).toBeGreaterThan(5);
    const readme = await Bun.file(join(ROOT, "README.md")).text();
    expect(readme.replace(/\s+/g, " ")).toContain(
      "The first request, and the first after each 10-second cooldown (the demo's `cooldown_seconds: 10`), meets the rate-limited provider and falls back to the healthy one; the others go straight to the healthy one.",
    );
  });

  test("the banner names /status and /metrics with the key, and both answer with it", async () => {
    expect(demo.banner).toContain(`curl -H "Authorization: Bearer ${DEMO_KEY}" ${demo.url}/status`);
    expect(demo.banner).toContain(`curl -H "Authorization: Bearer ${DEMO_KEY}" ${demo.url}/metrics`);
    expect((await fetch(`${demo.url}/status`, { headers: AUTH })).status).toBe(200);
    const metrics = await fetch(`${demo.url}/metrics`, { headers: AUTH });
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain("llm_proxy_requests_total");
  });

  test("the OpenAI SDK sees the demo's tool call, streamed and not, and gets a text answer quoting the tool's result", async () => {
    const client = new OpenAI({ baseURL: `${demo.url}/v1`, apiKey: DEMO_KEY, maxRetries: 0 });
    const tools = [{ type: "function" as const, function: { name: WEATHER.name, description: WEATHER.description, parameters: WEATHER.schema } }];
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: "user", content: "Weather in Paris?" }];

    const plain = await client.chat.completions.create({ model: "demo-model", messages, tools });
    expect(plain.choices[0]!.finish_reason).toBe("tool_calls");
    const call = plain.choices[0]!.message.tool_calls![0]!;
    expect(call.type === "function" && call.function.name).toBe("get_weather");
    expect(call.type === "function" && JSON.parse(call.function.arguments)).toEqual(DEMO_ARGS);

    const streamed = await client.chat.completions.stream({ model: "demo-model", messages, tools }).finalChatCompletion();
    expect(streamed.choices[0]!.finish_reason).toBe("tool_calls");
    const streamedCall = streamed.choices[0]!.message.tool_calls![0]!;
    expect(streamedCall.type === "function" && streamedCall.function.name).toBe("get_weather");
    expect(streamedCall.type === "function" && JSON.parse(streamedCall.function.arguments)).toEqual(DEMO_ARGS);

    const followUp: OpenAI.ChatCompletionMessageParam[] = [...messages, plain.choices[0]!.message, { role: "tool", tool_call_id: call.id, content: "18 °C and sunny" }];
    const answer = await client.chat.completions.create({ model: "demo-model", messages: followUp, tools });
    expect(answer.choices[0]!.message.content).toContain("The tool get_weather returned: 18 °C and sunny");
    let text = "";
    for await (const chunk of await client.chat.completions.create({ model: "demo-model", messages: followUp, tools, stream: true })) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toContain("The tool get_weather returned: 18 °C and sunny");
  });

  test("the Anthropic SDK sees the demo's tool call, streamed (finalMessage) and not, and gets a text answer quoting the tool's result", async () => {
    const client = new Anthropic({ baseURL: demo.url, apiKey: DEMO_KEY, maxRetries: 0 });
    const tools = [{ name: WEATHER.name, description: WEATHER.description, input_schema: WEATHER.schema as Anthropic.Tool.InputSchema }];
    const messages: Anthropic.MessageParam[] = [{ role: "user", content: "Weather in Paris?" }];

    const plain = await client.messages.create({ model: "demo-model", max_tokens: 256, messages, tools });
    expect(plain.stop_reason).toBe("tool_use");
    const use = plain.content[0]!;
    expect(use.type).toBe("tool_use");
    expect(use.type === "tool_use" && [use.name, use.input]).toEqual(["get_weather", DEMO_ARGS]);

    const streamed = await client.messages.stream({ model: "demo-model", max_tokens: 256, messages, tools }).finalMessage();
    expect(streamed.stop_reason).toBe("tool_use");
    const streamedUse = streamed.content[0]!;
    expect(streamedUse.type === "tool_use" && [streamedUse.name, streamedUse.input]).toEqual(["get_weather", DEMO_ARGS]);

    const id = use.type === "tool_use" ? use.id : "";
    const followUp: Anthropic.MessageParam[] = [...messages, { role: "assistant", content: plain.content }, { role: "user", content: [{ type: "tool_result", tool_use_id: id, content: "18 °C and sunny" }] }];
    const answer = await client.messages.create({ model: "demo-model", max_tokens: 256, messages: followUp, tools });
    expect(answer.content[0]!.type === "text" && answer.content[0]!.text).toContain("The tool get_weather returned: 18 °C and sunny");
    const final = await client.messages.stream({ model: "demo-model", max_tokens: 256, messages: followUp, tools }).finalMessage();
    expect(final.content[0]!.type === "text" && final.content[0]!.text).toContain("The tool get_weather returned: 18 °C and sunny");
  });
});

describe("a demo provider", () => {
  test("answers a path it does not serve in that path's protocol: Anthropic's error shape under /v1/messages, OpenAI's elsewhere", async () => {
    const provider = startDemoProvider("healthy", "healthy");
    try {
      const post = (path: string) => fetch(`${provider.url}${path}`, { method: "POST", body: JSON.stringify({ model: "m", messages: [] }) });
      const anthropic = await post("/v1/messages/count_tokens");
      expect(anthropic.status).toBe(404);
      expect(await anthropic.json()).toEqual({ type: "error", error: { type: "not_found_error", message: "the demo provider does not serve /v1/messages/count_tokens" } });
      const openai = await post("/v1/embeddings");
      expect(openai.status).toBe(404);
      expect(((await openai.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error");
    } finally {
      await provider.server.stop(true);
    }
  });
});

describe("the demo's temporary config folder", () => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    test(`is removed when the demo is stopped with ${signal}`, async () => {
      const demo = await startDemo();
      try {
        const folder = /Config: (\S+)\/config\.yaml/.exec(demo.banner)![1]!;
        expect(folder.startsWith(join(demo.tmp, "llm-proxy-demo-"))).toBe(true);
        expect(existsSync(folder)).toBe(true);
        demo.proc.kill(signal);
        expect(await demo.proc.exited).toBe(0);
        expect(readdirSync(demo.tmp)).toEqual([]);
      } finally {
        demo.proc.kill("SIGKILL");
        rmSync(demo.tmp, { recursive: true, force: true });
      }
    });
  }

  test("is removed when the demo ends by itself (here: its port is taken)", async () => {
    await using taken = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("taken") });
    const demo = await startDemo(["--port", String(taken.port)]);
    try {
      expect(demo.exited).toBe(1);
      expect(readdirSync(demo.tmp)).toEqual([]);
    } finally {
      rmSync(demo.tmp, { recursive: true, force: true });
    }
  });
});
