/**
 * The two translators between OpenAI Chat Completions and Anthropic Messages.
 * Each is built from the small pure pieces beside it, one job per file.
 */

import { anthropicAnswerToChat } from "./anthropic-to-chat-answer.ts";
import { anthropicToChatRequest } from "./anthropic-to-chat-request.ts";
import { anthropicStreamToChat } from "./anthropic-to-chat-stream.ts";
import { chatToAnthropicRequest } from "./chat-to-anthropic-request.ts";
import { chatAnswerToAnthropic } from "./chat-to-anthropic-answer.ts";
import { chatStreamToAnthropic } from "./chat-to-anthropic-stream.ts";
import { anthropicErrorFromChat, chatErrorFromAnthropic } from "./errors.ts";
import type { Translator } from "./types.ts";

/** An OpenAI Chat client served by an Anthropic Messages backend. */
export const chatToAnthropic: Translator = {
  client: "openai",
  backend: "anthropic",
  path: "/v1/messages",
  request: chatToAnthropicRequest,
  response: anthropicAnswerToChat,
  error: chatErrorFromAnthropic,
  stream: anthropicStreamToChat,
};

/** An Anthropic Messages client served by an OpenAI Chat backend. */
export const anthropicToChat: Translator = {
  client: "anthropic",
  backend: "openai",
  path: "/v1/chat/completions",
  request: (body, ctx) => anthropicToChatRequest(body, ctx),
  response: chatAnswerToAnthropic,
  error: anthropicErrorFromChat,
  stream: chatStreamToAnthropic,
};
