/**
 * Content blocks of an Anthropic stream written from pieces that arrive in any
 * order: text, thinking, and tool calls whose arguments come in fragments, several
 * calls possibly interleaved by their Chat `index`.
 * https://docs.anthropic.com/en/api/messages-streaming#content-block-delta-types
 *
 * Anthropic clients expect ONE block open at a time, indexes 0, 1, 2, … and every
 * delta inside the block of its kind (LiteLLM #32357 sent thinking deltas into a
 * text block). So:
 * - a new kind of content closes the open block and opens the next;
 * - a tool call opens its block once its name is known, and streams its argument
 *   fragments as they come (LiteLLM #29491 lost them and sent `input: {}`);
 * - a call that starts while another call's block is open waits, its fragments
 *   buffered, until the open call's arguments form complete JSON (then no more can
 *   belong to it) or the turn ends; then it opens with what it buffered and
 *   streams on. Every call gets its own block (Bifrost PR #3441, Portkey #1275);
 * - text that is only whitespace so far is held back, and dropped if the block
 *   would hold nothing else: Anthropic refuses whitespace-only text blocks when the
 *   client sends the turn back (new-api #1854).
 * A fragment with a new id at a known index starts a new call (servers that put
 * every call at index 0). Fragments for a call whose block was already closed (only possible when a
 * provider sends more after complete JSON, or text came between) are dropped.
 */

import { parseJson } from "./json.ts";
import type { JsonObject, StreamEvent } from "./types.ts";

interface ToolCall {
  id: string | undefined;
  name: string | undefined;
  args: string;
  state: "pending" | "open" | "closed";
}

type Open = { readonly kind: "text" | "thinking"; readonly index: number } | { readonly kind: "tool"; readonly index: number; readonly call: ToolCall };

function event(type: string, payload: JsonObject): StreamEvent {
  return { event: type, data: { type, ...payload } };
}

function isCompleteJson(text: string): boolean {
  return text.trim() !== "" && parseJson(text) !== undefined;
}

export class AnthropicBlocks {
  #next = 0;
  #open: Open | undefined;
  #heldSpace = "";
  readonly #calls = new Map<string | number, ToolCall>();
  readonly #queue: ToolCall[] = [];
  readonly #makeId: (n: number) => string;
  #callCount = 0;

  /** `makeId(n)` names the n-th call when the provider gave it no id. */
  constructor(makeId: (n: number) => string) {
    this.#makeId = makeId;
  }

  /** How many tool calls the turn has had. */
  get toolCalls(): number {
    return this.#callCount;
  }

  text(text: string, out: StreamEvent[]): void {
    if (text === "") return;
    if (this.#open?.kind !== "text") {
      if ((this.#heldSpace + text).trim() === "") {
        this.#heldSpace += text;
        return;
      }
      text = this.#heldSpace + text;
      this.#heldSpace = "";
      this.#start({ type: "text", text: "" }, (index) => ({ kind: "text", index }), out);
    }
    out.push(this.#delta({ type: "text_delta", text }));
  }

  thinking(text: string, out: StreamEvent[]): void {
    if (text === "") return;
    this.#ensureThinking(out);
    out.push(this.#delta({ type: "thinking_delta", thinking: text }));
  }

  signature(signature: string, out: StreamEvent[]): void {
    if (signature === "") return;
    this.#ensureThinking(out);
    out.push(this.#delta({ type: "signature_delta", signature }));
  }

  /** One Chat tool-call fragment: `key` is its `index`; id and name usually only in its first fragment. */
  tool(key: string | number, id: string | undefined, name: string | undefined, args: string, out: StreamEvent[]): void {
    let call = this.#calls.get(key);
    // Some servers send every call at index 0, told apart only by id: a new id is a new call.
    if (!call || (id && call.id !== undefined && id !== call.id)) {
      call = { id: undefined, name: undefined, args: "", state: "pending" };
      this.#calls.set(key, call);
      this.#queue.push(call);
      this.#callCount++;
    }
    if (id && call.id === undefined) call.id = id;
    if (name && call.name === undefined) call.name = name;
    if (call.state === "open") {
      call.args += args;
      if (args !== "") out.push(this.#delta({ type: "input_json_delta", partial_json: args }));
    } else if (call.state === "pending") {
      call.args += args;
    }
    this.#advance(false, out);
  }

  /** The turn's content is over: close the open block and write every call still waiting. */
  finish(out: StreamEvent[]): void {
    this.#heldSpace = "";
    this.#advance(true, out);
    this.#close(out);
  }

  /** Opens waiting calls in order while the open block lets them (always, when `force`). */
  #advance(force: boolean, out: StreamEvent[]): void {
    for (;;) {
      const head = this.#queue[0];
      if (!head || (!force && head.name === undefined)) return;
      const open = this.#open;
      if (!force && open?.kind === "tool" && !isCompleteJson(open.call.args)) return;
      this.#queue.shift();
      this.#close(out);
      head.state = "open";
      const n = this.#callCount - this.#queue.length - 1;
      head.id ??= this.#makeId(n);
      this.#start({ type: "tool_use", id: head.id, name: head.name ?? "", input: {} }, (index) => ({ kind: "tool", index, call: head }), out);
      if (head.args !== "") out.push(this.#delta({ type: "input_json_delta", partial_json: head.args }));
    }
  }

  #ensureThinking(out: StreamEvent[]): void {
    if (this.#open?.kind !== "thinking") this.#start({ type: "thinking", thinking: "", signature: "" }, (index) => ({ kind: "thinking", index }), out);
  }

  #start(block: JsonObject, open: (index: number) => Open, out: StreamEvent[]): void {
    this.#close(out);
    // Whitespace held for a text block that never came: another kind of block starts instead.
    this.#heldSpace = "";
    const index = this.#next++;
    this.#open = open(index);
    out.push(event("content_block_start", { index, content_block: block }));
  }

  #delta(delta: JsonObject): StreamEvent {
    return event("content_block_delta", { index: this.#open?.index ?? 0, delta });
  }

  #close(out: StreamEvent[]): void {
    const open = this.#open;
    if (!open) return;
    if (open.kind === "tool") open.call.state = "closed";
    out.push(event("content_block_stop", { index: open.index }));
    this.#open = undefined;
  }
}
