/**
 * A Chat-only fake provider as its own process, for the CLI tests: it runs inside
 * the test's network namespace beside the proxy and the CLI.
 *
 *   bun test/helpers/cli-fake-provider.ts <scenario.json>
 *
 * It prints `listening on http://127.0.0.1:<port>` and appends every request it gets
 * (path, query, body) as a JSON line to the scenario's `record` file. It answers as an
 * agent's model would, by what the request holds, so the CLI's side requests (titles,
 * summaries) cannot put it out of step:
 *
 * - a request whose messages hold a tool result: the scenario's final text;
 * - else a request that offers one of the scenario's tools: a call of the first one
 *   offered, its arguments streamed in many pieces;
 * - else (a side request without tools): a short text.
 */
import { appendFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chatEvent, chatTurn, dig, OneProtocolProvider, type Call } from "./one-protocol.ts";

export interface Scenario {
  /** Where each request is appended as a JSON line. */
  readonly record: string;
  /** Tool name → the JSON arguments to call it with, in order of preference; `{work}` in a string is the work folder's path. */
  readonly tools: Record<string, Record<string, unknown>>;
  readonly finalText: string;
  /** Reasoning the model streams before its tool call and before its final text (reasoning_content). */
  readonly reasoning?: string;
  /** The final answer's stream breaks after its first piece (the connection is reset). */
  readonly cutFinal?: boolean;
}

/** One line of the record file. */
export interface Recorded {
  readonly path: string;
  readonly search: string;
  readonly body: unknown;
  readonly answer: "tool_call" | "final" | "side";
  readonly tool?: string;
}

const scenario = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as Scenario;

const messages = (call: Call) => (Array.isArray(dig(call.body, "messages")) ? (dig(call.body, "messages") as unknown[]) : []);
const offered = (call: Call) => (Array.isArray(dig(call.body, "tools")) ? (dig(call.body, "tools") as unknown[]).map((t) => String(dig(t, "function", "name"))) : []);

function answer(call: Call): Response | Promise<Response> {
  const record = (entry: Omit<Recorded, "path" | "search" | "body">) =>
    appendFileSync(scenario.record, `${JSON.stringify({ path: call.path, search: call.search, body: call.body, ...entry } satisfies Recorded)}\n`);
  if (messages(call).some((m) => dig(m, "role") === "tool")) {
    record({ answer: "final" });
    if (scenario.cutFinal) return cutStream(scenario.finalText.slice(0, 8));
    return chatTurn({ content: scenario.finalText, reasoning: scenario.reasoning, parts: 4 })(call);
  }
  const names = offered(call);
  const tool = Object.keys(scenario.tools).find((name) => names.includes(name));
  if (tool) {
    record({ answer: "tool_call", tool });
    const args = JSON.stringify(scenario.tools[tool]).replaceAll("{work}", join(process.cwd(), "work"));
    return chatTurn({ calls: [{ id: "call_cli_1", name: tool, arguments: args }], reasoning: scenario.reasoning, parts: 8 })(call);
  }
  record({ answer: "side" });
  return chatTurn({ content: "ok" })(call);
}

/** A stream that sends the role and `text`, then breaks: no finish_reason, no [DONE]. */
function cutStream(text: string): Response {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(chatEvent({ role: "assistant", content: "" }) + chatEvent({ content: text })));
      // Once those bytes are on their way, the connection breaks.
      setTimeout(() => controller.error(new Error("provider reset")), 50);
    },
  });
  return new Response(body, { headers: { "content-type": "text/event-stream" } });
}

const provider = new OneProtocolProvider("openai", [answer]);
console.log(`listening on ${provider.url}`);
process.on("SIGTERM", () => process.exit(0));
