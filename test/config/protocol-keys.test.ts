import { describe, expect, test } from "bun:test";
import { configFrom } from "../helpers/proxy.ts";

describe("backends[].protocol and stream_usage", () => {
  test("are read as written, so an unquoted off is stream_usage off (YAML 1.1 would read it as false)", () => {
    const config = configFrom(`
backends:
  - { name: a, url: "http://127.0.0.1:1/v1", protocol: openai, stream_usage: off }
  - { name: b, url: "http://127.0.0.1:1", protocol: anthropic }
models: { m: { routes: [{ backend: a, model: x }] } }
`);
    expect(config.backends.get("a")).toMatchObject({ protocol: "openai", streamUsage: "off", auth: "bearer" });
    expect(config.backends.get("b")).toMatchObject({ protocol: "anthropic", streamUsage: "auto", auth: "x-api-key" });
  });

  test("a protocol llm-proxy does not speak is an error naming the ones it does", () => {
    expect(() => configFrom(`backends: [{ name: a, url: "http://h/v1", protocol: gemini }]`)).toThrow('backends[0].protocol: expected one of openai, anthropic, openai-responses; got "gemini"');
  });
});
