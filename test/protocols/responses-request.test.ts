import { describe, expect, test } from "bun:test";
import { responsesRequestToChat } from "../../src/protocols/responses-request-to-chat.ts";
import type { JsonObject, RequestContext } from "../../src/protocols/types.ts";
import codexLite from "./fixtures/responses-codex-request.json";
import codexClassic from "./fixtures/responses-codex-request-classic.json";

const ctx: RequestContext = { model: "upstream-model", maxTokens: 4096, streamUsage: true };

function chat(body: JsonObject, context: RequestContext = ctx): JsonObject {
  const result = responsesRequestToChat(body, context);
  if (!result.ok) throw new Error(`refused: ${result.message}`);
  return result.body;
}

function refusal(body: JsonObject): string {
  const result = responsesRequestToChat(body, ctx);
  if (result.ok) throw new Error("expected a refusal");
  return result.message;
}

const fnTool = { type: "function", name: "get_weather", description: "Weather of a city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }, strict: true };
const chatFnTool = { type: "function", function: { name: "get_weather", description: "Weather of a city", parameters: fnTool.parameters, strict: true } };

describe("Responses request → Chat request: input items", () => {
  const cases: { name: string; input: unknown; instructions?: string; messages: unknown[] }[] = [
    { name: "a string input is one user message", input: "hello", messages: [{ role: "user", content: "hello" }] },
    {
      name: "instructions come first as a system message",
      instructions: "Be brief.",
      input: "hi",
      messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "hi" }],
    },
    {
      name: "a user message with one input_text part becomes plain text",
      input: [{ type: "message", role: "user", content: [{ type: "input_text", text: "hi" }] }],
      messages: [{ role: "user", content: "hi" }],
    },
    {
      name: "an easy input message without type is a message",
      input: [{ role: "user", content: "hi" }],
      messages: [{ role: "user", content: "hi" }],
    },
    {
      name: "images keep their parts, data URLs included, and a known detail",
      input: [
        {
          type: "message",
          role: "user",
          content: [
            { type: "input_text", text: "what is this?" },
            { type: "input_image", image_url: "data:image/png;base64,iVBORw0KGgo=", detail: "high" },
            { type: "input_image", image_url: "https://example.com/a.png", detail: "original" },
          ],
        },
      ],
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "what is this?" },
            { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=", detail: "high" } },
            { type: "image_url", image_url: { url: "https://example.com/a.png" } },
          ],
        },
      ],
    },
    {
      name: "developer and system messages become system text, consecutive ones merged",
      input: [
        { type: "message", role: "developer", content: [{ type: "input_text", text: "rule one" }, { type: "input_text", text: "rule two" }] },
        { type: "message", role: "system", content: "sys" },
        { role: "user", content: "go" },
      ],
      messages: [{ role: "system", content: "rule one\nrule two\n\nsys" }, { role: "user", content: "go" }],
    },
    {
      name: "assistant history with output_text and refusal parts",
      input: [
        { role: "user", content: "q" },
        { type: "message", role: "assistant", id: "msg_1", status: "completed", content: [{ type: "output_text", text: "a", annotations: [] }, { type: "refusal", refusal: "no" }] },
      ],
      messages: [{ role: "user", content: "q" }, { role: "assistant", content: "a", refusal: "no" }],
    },
    {
      name: "consecutive function calls are one assistant message with the text before them, outputs are tool messages",
      input: [
        { role: "user", content: "weather in Paris and Rome?" },
        { type: "message", role: "assistant", content: [{ type: "output_text", text: "Checking both." }] },
        { type: "function_call", id: "fc_1", call_id: "call_a", name: "get_weather", arguments: '{"city":"Paris"}' },
        { type: "function_call", id: "fc_2", call_id: "call_b", name: "get_weather", arguments: '{"city":"Rome"}' },
        { type: "function_call_output", call_id: "call_a", output: "sunny" },
        { type: "function_call_output", call_id: "call_b", output: [{ type: "input_text", text: "rain" }, { type: "input_text", text: "12°C" }] },
      ],
      messages: [
        { role: "user", content: "weather in Paris and Rome?" },
        {
          role: "assistant",
          content: "Checking both.",
          tool_calls: [
            { id: "call_a", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
            { id: "call_b", type: "function", function: { name: "get_weather", arguments: '{"city":"Rome"}' } },
          ],
        },
        { role: "tool", tool_call_id: "call_a", content: "sunny" },
        { role: "tool", tool_call_id: "call_b", content: "rain\n12°C" },
      ],
    },
    {
      name: "a reasoning summary becomes reasoning_content of the following assistant message",
      input: [
        { role: "user", content: "q" },
        { type: "reasoning", id: "rs_1", summary: [{ type: "summary_text", text: "First." }, { type: "summary_text", text: "Second." }], encrypted_content: "opaque" },
        { type: "function_call", call_id: "c1", name: "get_weather", arguments: "{}" },
        { type: "function_call_output", call_id: "c1", output: "ok" },
      ],
      messages: [
        { role: "user", content: "q" },
        { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "get_weather", arguments: "{}" } }], reasoning_content: "First.\n\nSecond." },
        { role: "tool", tool_call_id: "c1", content: "ok" },
      ],
    },
    {
      name: "a reasoning item with nothing after it is dropped",
      input: [{ role: "user", content: "q" }, { type: "reasoning", summary: [{ type: "summary_text", text: "hmm" }] }],
      messages: [{ role: "user", content: "q" }],
    },
    {
      name: "custom tool calls carry their input as {input} and outputs are tool messages",
      input: [
        { type: "custom_tool_call", call_id: "c2", name: "apply_patch", input: "*** Begin Patch\n*** End Patch\n" },
        { type: "custom_tool_call_output", call_id: "c2", output: "Done" },
      ],
      messages: [
        { role: "assistant", content: null, tool_calls: [{ id: "c2", type: "function", function: { name: "apply_patch", arguments: JSON.stringify({ input: "*** Begin Patch\n*** End Patch\n" }) } }] },
        { role: "tool", tool_call_id: "c2", content: "Done" },
      ],
    },
    {
      name: "images in a tool output follow the tool messages in a user message",
      input: [
        { type: "function_call", call_id: "v1", name: "view_image", arguments: '{"path":"a.png"}' },
        { type: "function_call_output", call_id: "v1", output: [{ type: "input_image", image_url: "data:image/png;base64,AAAA" }] },
        { role: "user", content: "and?" },
      ],
      messages: [
        { role: "assistant", content: null, tool_calls: [{ id: "v1", type: "function", function: { name: "view_image", arguments: '{"path":"a.png"}' } }] },
        { role: "tool", tool_call_id: "v1", content: "" },
        { role: "user", content: [{ type: "text", text: "Images returned by tool call v1:" }, { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } }] },
        { role: "user", content: "and?" },
      ],
    },
    {
      name: "hosted-tool items and their outputs are dropped together",
      input: [
        { role: "user", content: "q" },
        { type: "web_search_call", id: "ws_1", status: "completed", action: { type: "search", query: "x" } },
        { type: "local_shell_call", id: "ls_1", call_id: "ls", status: "completed", action: { type: "exec", command: ["ls"] } },
        { type: "local_shell_call_output", id: "lso", call_id: "ls", output: "files" },
      ],
      messages: [{ role: "user", content: "q" }],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const body: JsonObject = { model: "alias", input: c.input };
      if (c.instructions !== undefined) body.instructions = c.instructions;
      expect(chat(body).messages).toEqual(c.messages);
    });
  }

  test("the translated body names the route's model", () => {
    expect(chat({ model: "alias", input: "x" }).model).toBe("upstream-model");
  });
});

describe("Responses request → Chat request: refusals", () => {
  const cases: { name: string; body: JsonObject; says: RegExp }[] = [
    { name: "store: true is refused: the proxy keeps no state", body: { input: "x", store: true }, says: /no conversation state.*store: false.*whole conversation/ },
    { name: "previous_response_id is refused", body: { input: "x", store: false, previous_response_id: "resp_1" }, says: /previous_response_id.*no conversation state/ },
    { name: "background mode is refused", body: { input: "x", store: false, background: true }, says: /background/ },
    { name: "a stored conversation is refused", body: { input: "x", conversation: "conv_1" }, says: /conversation/ },
    { name: "a stored prompt template is refused", body: { input: "x", prompt: { id: "pmpt_1" } }, says: /prompt template/ },
    { name: "an item_reference is refused", body: { input: [{ type: "item_reference", id: "msg_9" }] }, says: /item_reference "msg_9".*no conversation state/ },
    { name: "an input_image by file_id is refused", body: { input: [{ role: "user", content: [{ type: "input_image", file_id: "file-1", detail: "auto" }] }] }, says: /file_id.*image_url/ },
    { name: "an input_file by file_id is refused", body: { input: [{ role: "user", content: [{ type: "input_file", file_id: "file-1" }] }] }, says: /file_data/ },
  ];
  for (const c of cases) test(c.name, () => expect(refusal(c.body)).toMatch(c.says));

  test("store absent or false is served statelessly", () => {
    expect(responsesRequestToChat({ input: "x" }, ctx).ok).toBe(true);
    expect(responsesRequestToChat({ input: "x", store: false, background: false, previous_response_id: null }, ctx).ok).toBe(true);
  });
});

describe("Responses request → Chat request: tools", () => {
  test("a function tool is nested under function", () => {
    expect(chat({ input: "x", tools: [fnTool] }).tools).toEqual([chatFnTool]);
  });

  test("a custom tool becomes a function with one string parameter that carries the grammar", () => {
    const body = chat({ input: "x", tools: [{ type: "custom", name: "apply_patch", description: "Edit files.", format: { type: "grammar", syntax: "lark", definition: "start: x" } }] });
    expect(body.tools).toEqual([
      {
        type: "function",
        function: {
          name: "apply_patch",
          description: "Edit files.",
          parameters: {
            type: "object",
            properties: { input: { type: "string", description: "The tool's raw input text. It must follow this lark grammar:\nstart: x" } },
            required: ["input"],
            additionalProperties: false,
          },
        },
      },
    ]);
  });

  test("hosted tools are dropped without failing the request, and tool_choice goes with them", () => {
    const body = chat({ input: "x", tools: [{ type: "web_search" }, { type: "file_search", vector_store_ids: ["vs"] }, { type: "code_interpreter", container: { type: "auto" } }], tool_choice: "auto", parallel_tool_calls: true });
    expect(body.tools).toBeUndefined();
    expect(body.tool_choice).toBeUndefined();
    expect(body.parallel_tool_calls).toBeUndefined();
  });

  test("tool_choice and parallel_tool_calls are never sent without tools", () => {
    const body = chat({ input: "x", tool_choice: "required", parallel_tool_calls: false });
    expect(Object.keys(body).sort()).toEqual(["messages", "model"]);
  });

  const choices: { name: string; choice: unknown; chat: unknown }[] = [
    { name: "auto", choice: "auto", chat: "auto" },
    { name: "none", choice: "none", chat: "none" },
    { name: "required", choice: "required", chat: "required" },
    { name: "a named function", choice: { type: "function", name: "get_weather" }, chat: { type: "function", function: { name: "get_weather" } } },
    { name: "allowed_tools keeps its mode", choice: { type: "allowed_tools", mode: "required", tools: [{ type: "function", name: "get_weather" }] }, chat: "required" },
    { name: "a hosted tool choice is dropped", choice: { type: "web_search_preview" }, chat: undefined },
  ];
  for (const c of choices) {
    test(`tool_choice ${c.name}`, () => {
      const body = chat({ input: "x", tools: [fnTool], tool_choice: c.choice, parallel_tool_calls: false });
      expect(body.tool_choice).toEqual(c.chat);
      expect(body.parallel_tool_calls).toBe(false);
    });
  }

  test("tools from an additional_tools item merge with the top-level ones, namespaces flattened", () => {
    const body = chat({
      input: [
        { type: "additional_tools", role: "developer", tools: [{ type: "namespace", name: "clock", description: "Time.", tools: [{ type: "function", name: "sleep", parameters: { type: "object", properties: {} }, strict: false }] }, { type: "web_search" }] },
        { role: "user", content: "x" },
      ],
      tools: [fnTool],
      tool_choice: "auto",
    });
    expect((body.tools as JsonObject[]).map((t) => (t.function as JsonObject).name)).toEqual(["get_weather", "sleep"]);
    expect(body.tool_choice).toBe("auto");
    expect(body.messages).toEqual([{ role: "user", content: "x" }]);
  });

  test("additional_tools may group tools in a nested list", () => {
    const body = chat({ input: [{ type: "additional_tools", role: "developer", tools: [[fnTool, { type: "custom", name: "exec" }]] }, { role: "user", content: "x" }] });
    expect((body.tools as JsonObject[]).map((t) => (t.function as JsonObject).name)).toEqual(["get_weather", "exec"]);
  });

  test("the same name in two namespaces is told apart with a namespace prefix", () => {
    const ns = (name: string) => ({ type: "namespace", name, tools: [{ type: "function", name: "list", parameters: null, strict: null }] });
    const body = chat({
      input: [{ type: "additional_tools", role: "developer", tools: [ns("files"), ns("agents")] }, { type: "function_call", call_id: "c", name: "list", namespace: "agents", arguments: "{}" }, { type: "function_call_output", call_id: "c", output: "[]" }],
    });
    expect((body.tools as JsonObject[]).map((t) => (t.function as JsonObject).name)).toEqual(["files__list", "agents__list"]);
    expect(((body.messages as JsonObject[])[0]?.tool_calls as JsonObject[])[0]?.function).toEqual({ name: "agents__list", arguments: "{}" });
  });
});

describe("Responses request → Chat request: parameters", () => {
  test("max_output_tokens, temperature, top_p, user and stream are sent on; the rest is dropped", () => {
    const body = chat({
      input: "x",
      max_output_tokens: 300,
      temperature: 0.2,
      top_p: 0.9,
      safety_identifier: "u-1",
      stream: true,
      metadata: { a: "b" },
      include: ["reasoning.encrypted_content"],
      prompt_cache_key: "k",
      client_metadata: { x: "y" },
      truncation: "auto",
      text: { verbosity: "low" },
      store: false,
      service_tier: "flex",
    });
    expect(body).toEqual({
      model: "upstream-model",
      messages: [{ role: "user", content: "x" }],
      max_completion_tokens: 300,
      temperature: 0.2,
      top_p: 0.9,
      user: "u-1",
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  test("max_tokens is accepted too", () => {
    expect(chat({ input: "x", max_tokens: 7 }).max_completion_tokens).toBe(7);
  });

  test("stream_options is left out when the route does not ask for usage", () => {
    expect(chat({ input: "x", stream: true }, { ...ctx, streamUsage: false }).stream_options).toBeUndefined();
  });

  const efforts: [unknown, unknown][] = [["low", "low"], ["medium", "medium"], ["high", "high"], ["minimal", "low"], ["xhigh", "high"], ["none", undefined]];
  for (const [effort, chatEffort] of efforts) {
    test(`reasoning.effort ${String(effort)} → reasoning_effort ${String(chatEffort)}`, () => {
      expect(chat({ input: "x", reasoning: { effort, summary: "auto", context: "all_turns" } }).reasoning_effort).toBe(chatEffort);
    });
  }

  test("text.format json_schema becomes response_format json_schema", () => {
    const schema = { type: "object", properties: { a: { type: "string" } }, required: ["a"], additionalProperties: false };
    expect(chat({ input: "x", text: { format: { type: "json_schema", name: "thing", schema, strict: true }, verbosity: "high" } }).response_format).toEqual({
      type: "json_schema",
      json_schema: { name: "thing", schema, strict: true },
    });
  });

  test("text.format json_object becomes response_format json_object; text sends none", () => {
    expect(chat({ input: "x", text: { format: { type: "json_object" } } }).response_format).toEqual({ type: "json_object" });
    expect(chat({ input: "x", text: { format: { type: "text" } } }).response_format).toBeUndefined();
  });
});

/** What a Chat Completions server requires of a request: roles, tool calls answered, tool names, no tool_choice without tools. */
function expectValidChatRequest(body: JsonObject): void {
  const messages = body.messages as JsonObject[];
  expect(Array.isArray(messages)).toBe(true);
  const open = new Set<string>();
  for (const m of messages) {
    expect(["system", "user", "assistant", "tool"]).toContain(m.role as string);
    if (m.role === "tool") {
      expect(open.has(m.tool_call_id as string)).toBe(true);
      open.delete(m.tool_call_id as string);
      expect(typeof m.content).toBe("string");
    } else {
      expect(open.size).toBe(0); // every call is answered before anything else is said
    }
    for (const call of (m.tool_calls as JsonObject[] | undefined) ?? []) {
      open.add(call.id as string);
      JSON.parse((call.function as JsonObject).arguments as string);
    }
  }
  const tools = (body.tools as JsonObject[] | undefined) ?? [];
  for (const tool of tools) {
    expect(tool.type).toBe("function");
    expect((tool.function as JsonObject).name as string).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
  }
  if (tools.length === 0) {
    expect(body.tool_choice).toBeUndefined();
    expect(body.parallel_tool_calls).toBeUndefined();
  }
  expect(Object.keys(body).filter((k) => !["model", "messages", "tools", "tool_choice", "parallel_tool_calls", "stream", "stream_options", "reasoning_effort", "max_completion_tokens", "temperature", "top_p", "user", "response_format"].includes(k))).toEqual([]);
}

describe("what Codex 0.171 really sends", () => {
  test("the responses-lite body (tools in additional_tools namespaces) translates to a valid Chat request", () => {
    const body = chat(codexLite as JsonObject);
    expectValidChatRequest(body);
    const names = (body.tools as JsonObject[]).map((t) => (t.function as JsonObject).name);
    expect(names).toEqual(["exec", "wait", "request_user_input", "request_user_input_async", "sleep", "followup_task", "interrupt_agent", "list_agents", "send_message", "spawn_agent", "wait_agent"]);
    expect(body.tool_choice).toBe("auto");
    expect(body.parallel_tool_calls).toBe(false);
    expect(body.reasoning_effort).toBe("low");
    expect(body.stream).toBe(true);
    const messages = body.messages as JsonObject[];
    // Four developer messages, one system message: they are consecutive.
    expect(messages.map((m) => m.role).slice(0, 3)).toEqual(["system", "user", "user"]);
    expect(messages[0]?.content).toContain("You are Codex");
    expect(messages[0]?.content).toContain("<multi_agent_mode>");
    // The recorded history: reasoning + namespaced function call, then a custom (freeform) exec call.
    const calls = messages.filter((m) => m.tool_calls !== undefined);
    expect(calls).toEqual([
      { role: "assistant", content: null, reasoning_content: "Thinking about sleep.", tool_calls: [{ id: "call_1", type: "function", function: { name: "sleep", arguments: '{"duration_ms":1}' } }] },
      { role: "assistant", content: null, tool_calls: [{ id: "call_2", type: "function", function: { name: "exec", arguments: JSON.stringify({ input: "text('ok')" }) } }] },
    ]);
    expect(messages[messages.length - 1]).toEqual({ role: "tool", tool_call_id: "call_2", content: "Script completed\nWall time 0.0 seconds\nOutput:\nok" });
  });

  test("the classic body (top-level tools with web_search and tool_search) translates to a valid Chat request", () => {
    const body = chat(codexClassic as JsonObject);
    expectValidChatRequest(body);
    const names = (body.tools as JsonObject[]).map((t) => (t.function as JsonObject).name);
    expect(names).toContain("apply_patch");
    expect(names).toContain("exec_command");
    expect(names).not.toContain("tool_search");
    expect(body.parallel_tool_calls).toBe(true);
  });
});
