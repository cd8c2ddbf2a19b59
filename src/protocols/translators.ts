import { anthropicToChat, chatToAnthropic } from "./openai-anthropic.ts";
import { composeTranslators } from "./responses-compose.ts";
import { chatToResponses, responsesToChat } from "./responses-translators.ts";
import type { Protocol, Translator } from "./types.ts";

/**
 * The translator from each client protocol to each backend protocol. Chat
 * Completions is the hub: the Responses API reaches Anthropic through it, and back.
 */
const TRANSLATORS: ReadonlyMap<string, Translator> = new Map(
  [chatToAnthropic, anthropicToChat, responsesToChat, chatToResponses, composeTranslators(responsesToChat, chatToAnthropic), composeTranslators(anthropicToChat, chatToResponses)].map((t) => [`${t.client}>${t.backend}`, t]),
);

/** How a request of the client's protocol reaches a backend of another; undefined when they are the same. */
export function translatorFor(client: Protocol, backend: Protocol): Translator | undefined {
  return client === backend ? undefined : TRANSLATORS.get(`${client}>${backend}`);
}
