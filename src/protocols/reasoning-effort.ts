/**
 * Anthropic `thinking` ⇄ OpenAI `reasoning_effort`.
 * https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking
 * https://platform.openai.com/docs/api-reference/chat/create#chat-create-reasoning_effort
 *
 * Budgets for an effort, and efforts for a budget (the thresholds sit between the
 * budgets, so effort → budget → effort returns the same effort for low, medium, high):
 *
 * | reasoning_effort | budget_tokens | | budget_tokens  | reasoning_effort |
 * |------------------|---------------|-|----------------|------------------|
 * | minimal          | 1024          | | < 4096         | low              |
 * | low              | 2048          | | 4096 – 16383   | medium           |
 * | medium           | 8192          | | ≥ 16384        | high             |
 * | high             | 16384         | |                |                  |
 * | xhigh, max       | 32768         | |                |                  |
 *
 * `none` turns thinking off. Adaptive thinking has no budget: its effort is
 * `output_config.effort` (xhigh and max read as high, the highest value every
 * OpenAI-compatible server accepts), else high, Anthropic's default effort.
 */

import { isObject, num, str } from "./json.ts";
import type { JsonObject } from "./types.ts";

// https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking (budget_tokens ≥ 1024 and < max_tokens)
export const MIN_THINKING_BUDGET = 1024;

const BUDGETS: Readonly<Record<string, number>> = {
  minimal: 1024,
  low: 2048,
  medium: 8192,
  high: 16384,
  xhigh: 32768,
  max: 32768,
};

export function effortForBudget(budget: number): "low" | "medium" | "high" {
  if (budget < 4096) return "low";
  if (budget < 16384) return "medium";
  return "high";
}

/** `reasoning_effort` for an Anthropic request's `thinking`, or undefined when thinking is off or absent. */
export function effortFromThinking(thinking: unknown, outputConfig: unknown): string | undefined {
  if (!isObject(thinking)) return undefined;
  if (thinking.type === "enabled") return effortForBudget(num(thinking, "budget_tokens") ?? MIN_THINKING_BUDGET);
  if (thinking.type === "adaptive") {
    const effort = isObject(outputConfig) ? str(outputConfig, "effort") : undefined;
    if (effort === "low" || effort === "medium" || effort === "high") return effort;
    return "high";
  }
  return undefined;
}

/**
 * Anthropic `thinking` for a Chat request's `reasoning_effort`, fitted under
 * `maxTokens` (the budget must stay below it); undefined when the effort is
 * absent, `none`, unknown, or there is no room for the minimum budget.
 */
export function thinkingFromEffort(effort: unknown, maxTokens: number): JsonObject | undefined {
  if (typeof effort !== "string") return undefined;
  const wanted = BUDGETS[effort];
  if (wanted === undefined) return undefined;
  const budget = Math.min(wanted, maxTokens - 1);
  if (budget < MIN_THINKING_BUDGET) return undefined;
  return { type: "enabled", budget_tokens: budget };
}
