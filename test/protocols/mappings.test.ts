import { describe, expect, test } from "bun:test";
import { effortForBudget, effortFromThinking, thinkingFromEffort } from "../../src/protocols/reasoning-effort.ts";
import { finishReasonFromStop, stopReasonFromFinish } from "../../src/protocols/stop-reason.ts";
import { anthropicSource, parseDataUrl, urlOfSource } from "../../src/protocols/media.ts";

describe("stop_reason → finish_reason", () => {
  const cases: [string | undefined, boolean, string][] = [
    ["end_turn", false, "stop"],
    ["stop_sequence", false, "stop"],
    ["max_tokens", false, "length"],
    ["model_context_window_exceeded", false, "length"],
    ["tool_use", true, "tool_calls"],
    ["refusal", false, "content_filter"],
    ["pause_turn", false, "stop"],
    [undefined, false, "stop"],
    ["end_turn", true, "tool_calls"],
    ["max_tokens", true, "length"],
  ];
  for (const [stop, tool, want] of cases) test(`${String(stop)}${tool ? " with a tool call" : ""} → ${want}`, () => expect(finishReasonFromStop(stop, tool)).toBe(want));
});

describe("finish_reason → stop_reason", () => {
  const cases: [string | undefined, boolean, string][] = [
    ["stop", false, "end_turn"],
    ["length", false, "max_tokens"],
    ["tool_calls", true, "tool_use"],
    ["function_call", false, "tool_use"],
    ["content_filter", false, "refusal"],
    [undefined, false, "end_turn"],
    ["stop", true, "tool_use"],
    ["length", true, "max_tokens"],
  ];
  for (const [finish, tool, want] of cases) test(`${String(finish)}${tool ? " with a tool call" : ""} → ${want}`, () => expect(stopReasonFromFinish(finish, tool)).toBe(want));
});

describe("reasoning effort ⇄ thinking", () => {
  test("each effort maps to a budget that maps back to it (low, medium, high)", () => {
    for (const effort of ["low", "medium", "high"]) {
      const thinking = thinkingFromEffort(effort, 64_000);
      expect(thinking?.type).toBe("enabled");
      expect<string>(effortForBudget(thinking?.budget_tokens as number)).toBe(effort);
    }
  });

  const budgets: [number, string][] = [[1024, "low"], [4095, "low"], [4096, "medium"], [16383, "medium"], [16384, "high"], [100_000, "high"]];
  for (const [budget, effort] of budgets) test(`budget ${budget} → ${effort}`, () => expect(effortFromThinking({ type: "enabled", budget_tokens: budget }, undefined)).toBe(effort));

  test("the budget stays below max_tokens, and no thinking when even the minimum does not fit", () => {
    expect(thinkingFromEffort("high", 5000)).toEqual({ type: "enabled", budget_tokens: 4999 });
    expect(thinkingFromEffort("low", 1024)).toBeUndefined();
  });

  test("none, unknown efforts and non-strings turn nothing on", () => {
    for (const effort of ["none", "bogus", 3, undefined]) expect(thinkingFromEffort(effort, 64_000)).toBeUndefined();
  });

  test("adaptive thinking reads output_config.effort, else high", () => {
    expect(effortFromThinking({ type: "adaptive" }, { effort: "low" })).toBe("low");
    expect(effortFromThinking({ type: "adaptive" }, { effort: "max" })).toBe("high");
    expect(effortFromThinking({ type: "adaptive" }, undefined)).toBe("high");
  });

  test("disabled or absent thinking asks for no effort", () => {
    expect(effortFromThinking({ type: "disabled" }, { effort: "high" })).toBeUndefined();
    expect(effortFromThinking(undefined, undefined)).toBeUndefined();
  });
});

describe("media", () => {
  test("a base64 data URL ⇄ a base64 source", () => {
    const url = "data:image/png;base64,iVBORw0KGgo=";
    expect(anthropicSource(url)).toEqual({ type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" });
    expect(urlOfSource(anthropicSource(url))).toBe(url);
  });

  test("a web URL ⇄ a url source", () => {
    expect(anthropicSource("https://example.com/cat.jpg")).toEqual({ type: "url", url: "https://example.com/cat.jpg" });
    expect(urlOfSource({ type: "url", url: "https://example.com/cat.jpg" })).toBe("https://example.com/cat.jpg");
  });

  test("data URL parameters before base64 are allowed; a non-base64 data URL is not one", () => {
    expect(parseDataUrl("data:image/jpeg;name=a.jpg;base64,AAA")).toEqual({ mediaType: "image/jpeg", data: "AAA" });
    expect(parseDataUrl("data:text/plain,hello")).toBeUndefined();
  });

  test("a file source has no URL", () => expect(urlOfSource({ type: "file", file_id: "f" })).toBeUndefined());
});
