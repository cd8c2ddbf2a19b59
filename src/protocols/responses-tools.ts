/**
 * Tool definitions and tool_choice between the Responses API and Chat Completions.
 *
 * Responses puts a function's name, description, parameters and strict at the top
 * level of the tool; Chat nests them under `function`.
 * https://platform.openai.com/docs/api-reference/responses/create#responses-create-tools
 * https://platform.openai.com/docs/api-reference/chat/create#chat-create-tools
 *
 * What a Chat target gets from a Responses request:
 * - `function` tools, as Chat function tools.
 * - `custom` tools (freeform input, e.g. Codex's `apply_patch` or `exec`): a Chat
 *   function taking one string parameter, `{"input": "..."}`; the grammar, if any,
 *   goes into that parameter's description. The model's call comes back to the
 *   client as a `custom_tool_call` item carrying that `input`.
 * - `namespace` tools (Codex groups its tools this way): their function and custom
 *   tools, flattened under their own names (prefixed `namespace__` only when two
 *   namespaces use the same name); the call comes back with its `namespace`. The
 *   namespace's own description is not sent.
 * - Tools from `additional_tools` input items (Codex "responses lite" sends its
 *   tools there instead of in `tools`), merged with the top-level ones.
 * - Built-in hosted tools (web_search, web_search_preview, file_search, computer,
 *   computer_use_preview, code_interpreter, image_generation, mcp, local_shell,
 *   shell, apply_patch, tool_search, …) run on OpenAI's servers and have no Chat
 *   counterpart: they are dropped, and the request is still served.
 * - `defer_loading` is ignored: Chat has no tool search, so deferred tools are
 *   simply available from the start.
 */
import { bool, isObject, list, obj, objects, str } from "./responses-guards.ts";
import type { JsonObject } from "./types.ts";

/** One tool as the client named it, and the name the Chat model sees. */
export interface ToolName {
  readonly chatName: string;
  readonly name: string;
  readonly namespace: string | undefined;
  /** A freeform (`custom`) tool: its call is a `custom_tool_call` with `input`. */
  readonly custom: boolean;
}

export interface ChatToolSet {
  readonly tools: JsonObject[];
  /** The client's tool behind a Chat function name, if it is one of the request's tools. */
  byChatName(chatName: string): ToolName | undefined;
  /** The Chat function name for a client tool (history items carry name and namespace). */
  chatNameOf(name: string, namespace: string | undefined): string;
}

interface Entry {
  readonly name: string;
  readonly namespace: string | undefined;
  readonly tool: JsonObject;
}

/** Every function-like tool of a Responses request: `tools` plus `additional_tools` items. */
function collectEntries(request: JsonObject): Entry[] {
  const entries: Entry[] = [];
  const add = (tool: unknown, namespace: string | undefined, depth: number): void => {
    // Groups may nest one level (a list inside the list, or a namespace); deeper is not a shape anyone sends.
    if (Array.isArray(tool)) {
      if (depth < 2) for (const t of tool) add(t, namespace, depth + 1);
      return;
    }
    if (!isObject(tool)) return;
    if (tool.type === "namespace" || (tool.type === undefined && Array.isArray(tool.tools))) {
      if (depth < 2) for (const t of list(tool.tools)) add(t, str(tool.name) ?? namespace, depth + 1);
      return;
    }
    const name = str(tool.name);
    if ((tool.type === "function" || tool.type === "custom") && name !== undefined && name !== "") {
      if (!entries.some((e) => e.name === name && e.namespace === namespace)) entries.push({ name, namespace, tool });
    }
  };
  for (const tool of list(request.tools)) add(tool, undefined, 0);
  for (const item of objects(request.input)) {
    if (item.type === "additional_tools") for (const tool of list(item.tools)) add(tool, undefined, 0);
  }
  return entries;
}

function customInputDescription(format: unknown): string {
  const f = obj(format);
  const definition = str(f.definition) ?? str(obj(f.grammar).definition);
  const syntax = str(f.syntax) ?? str(obj(f.grammar).syntax) ?? "grammar";
  if (f.type === "grammar" && definition !== undefined) {
    return `The tool's raw input text. It must follow this ${syntax} grammar:\n${definition}`;
  }
  return "The tool's raw input text.";
}

function toChatTool(entry: Entry, chatName: string): JsonObject {
  const t = entry.tool;
  const fn: JsonObject = { name: chatName };
  const description = str(t.description);
  if (description !== undefined && description !== "") fn.description = description;
  if (t.type === "custom") {
    fn.parameters = {
      type: "object",
      properties: { input: { type: "string", description: customInputDescription(t.format) } },
      required: ["input"],
      additionalProperties: false,
    };
  } else {
    if (isObject(t.parameters)) fn.parameters = t.parameters;
    const strict = bool(t.strict);
    if (strict !== undefined) fn.strict = strict;
  }
  return { type: "function", function: fn };
}

export function responsesToolsToChat(request: JsonObject): ChatToolSet {
  const entries = collectEntries(request);
  const names: ToolName[] = entries.map((e) => {
    const clash = entries.filter((o) => o.name === e.name).length > 1;
    const chatName = clash ? `${e.namespace ?? "tool"}__${e.name}` : e.name;
    return { chatName, name: e.name, namespace: e.namespace, custom: e.tool.type === "custom" };
  });
  const tools = entries.map((e, i) => toChatTool(e, names[i]?.chatName ?? e.name));
  return {
    tools,
    byChatName: (chatName) => names.find((n) => n.chatName === chatName),
    chatNameOf(name, namespace) {
      const exact = names.find((n) => n.name === name && n.namespace === namespace);
      if (exact !== undefined) return exact.chatName;
      const byName = names.filter((n) => n.name === name);
      return byName.length === 1 && byName[0] !== undefined ? byName[0].chatName : name;
    },
  };
}

/**
 * Responses `tool_choice` → Chat; undefined means "send none". A choice naming a
 * hosted tool (dropped above) is dropped with it; `allowed_tools` keeps only its
 * mode, since most Chat servers do not know Chat's own `allowed_tools`.
 */
export function responsesToolChoiceToChat(choice: unknown, tools: ChatToolSet): unknown {
  if (choice === "auto" || choice === "none" || choice === "required") return choice;
  if (!isObject(choice)) return undefined;
  const name = str(choice.name);
  if ((choice.type === "function" || choice.type === "custom") && name !== undefined) {
    return { type: "function", function: { name: tools.chatNameOf(name, str(choice.namespace)) } };
  }
  if (choice.type === "allowed_tools" && (choice.mode === "auto" || choice.mode === "required")) return choice.mode;
  return undefined;
}

function toResponsesFormat(format: unknown): JsonObject | undefined {
  const f = obj(format);
  if (f.type === "text") return { type: "text" };
  const grammar = obj(f.grammar);
  if (f.type === "grammar" && str(grammar.definition) !== undefined) {
    return { type: "grammar", syntax: str(grammar.syntax) ?? "lark", definition: grammar.definition };
  }
  return undefined;
}

/**
 * Chat `tools` → Responses. Chat's `strict` defaults to false but Responses tries
 * strict validation when it is omitted, so an absent `strict` is sent as false.
 */
export function chatToolsToResponses(tools: unknown): JsonObject[] {
  const out: JsonObject[] = [];
  for (const tool of objects(tools)) {
    if (tool.type === "function" && isObject(tool.function) && str(tool.function.name) !== undefined) {
      const fn = tool.function;
      const r: JsonObject = { type: "function", name: fn.name };
      if (str(fn.description) !== undefined) r.description = fn.description;
      r.parameters = isObject(fn.parameters) ? fn.parameters : { type: "object", properties: {} };
      r.strict = bool(fn.strict) ?? false;
      out.push(r);
    } else if (tool.type === "custom" && isObject(tool.custom) && str(tool.custom.name) !== undefined) {
      const c = tool.custom;
      const r: JsonObject = { type: "custom", name: c.name };
      if (str(c.description) !== undefined) r.description = c.description;
      const format = toResponsesFormat(c.format);
      if (format !== undefined) r.format = format;
      out.push(r);
    }
  }
  return out;
}

/** Chat `tool_choice` → Responses; undefined when there is nothing to send. */
export function chatToolChoiceToResponses(choice: unknown): unknown {
  if (choice === "auto" || choice === "none" || choice === "required") return choice;
  if (!isObject(choice)) return undefined;
  const fnName = str(obj(choice.function).name);
  if (choice.type === "function" && fnName !== undefined) return { type: "function", name: fnName };
  const customName = str(obj(choice.custom).name);
  if (choice.type === "custom" && customName !== undefined) return { type: "custom", name: customName };
  const allowed = obj(choice.allowed_tools);
  if (choice.type === "allowed_tools" && (allowed.mode === "auto" || allowed.mode === "required")) {
    const named = objects(allowed.tools).flatMap((t) => {
      const name = str(obj(t.function).name) ?? str(obj(t.custom).name);
      return name === undefined ? [] : [{ type: t.type === "custom" ? "custom" : "function", name }];
    });
    return { type: "allowed_tools", mode: allowed.mode, tools: named };
  }
  return undefined;
}

/** Names of the Chat client's `custom` tools: their calls go back as Chat custom tool calls. */
export function chatCustomToolNames(request: JsonObject): Set<string> {
  const names = new Set<string>();
  for (const tool of objects(request.tools)) {
    const name = str(obj(tool.custom).name);
    if (tool.type === "custom" && name !== undefined) names.add(name);
  }
  return names;
}
