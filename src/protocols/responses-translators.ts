/**
 * The two translators between the Responses API and Chat Completions.
 * `responsesToChat`: a Responses client (Codex, `client.responses.*`) served by a
 * Chat Completions backend. `chatToResponses`: a Chat client served by a backend
 * that speaks only `POST /v1/responses`.
 */
import { chatAnswerToResponses } from "./responses-answer-from-chat.ts";
import { responsesAnswerToChat } from "./responses-answer-to-chat.ts";
import { openAIShapedError } from "./responses-errors.ts";
import { chatRequestToResponses } from "./responses-request-from-chat.ts";
import { responsesRequestToChat } from "./responses-request-to-chat.ts";
import { chatStreamToResponses } from "./responses-stream-from-chat.ts";
import { responsesStreamToChat } from "./responses-stream-to-chat.ts";
import type { Translator } from "./types.ts";

export const responsesToChat: Translator = {
  client: "openai-responses",
  backend: "openai",
  path: "/v1/chat/completions",
  request: responsesRequestToChat,
  response: chatAnswerToResponses,
  error: openAIShapedError,
  stream: chatStreamToResponses,
};

export const chatToResponses: Translator = {
  client: "openai",
  backend: "openai-responses",
  path: "/v1/responses",
  request: chatRequestToResponses,
  response: responsesAnswerToChat,
  error: openAIShapedError,
  stream: responsesStreamToChat,
};
