import { expect, test } from "bun:test";
import { join } from "node:path";
import { chatCompletion, FakeProvider, modelOf } from "../helpers/fake-provider.ts";
import { post } from "../helpers/http.ts";
import { startProxy } from "../helpers/proxy.ts";

const FIXTURE = join(import.meta.dir, "..", "fixtures", "original-config.example.yaml");

/** The original's example, byte for byte, with only the backend URLs and `listen` pointed at the test. */
async function originalConfig(primary: string, secondary: string): Promise<string> {
  const text = await Bun.file(FIXTURE).text();
  const replaced = text
    .replace('listen: ":8080"', 'listen: "127.0.0.1:0"')
    .replace('url: "https://api.primary-provider.com/v1"', `url: "${primary}/v1"`)
    .replace('url: "https://api.secondary-provider.com/v1"', `url: "${secondary}/v1"`);
  // The fixture must still be the original's: a failed replacement would test nothing.
  expect(replaced).not.toContain("provider.com");
  expect(replaced).not.toContain(":8080");
  return replaced;
}

test("the original's example config serves anthropic/claude-sonnet-4 through the primary backend", async () => {
  await using primary = new FakeProvider((r) => Response.json(chatCompletion("from primary", modelOf(r))));
  await using secondary = new FakeProvider(() => Response.json(chatCompletion("from secondary")));
  await using proxy = startProxy(await originalConfig(primary.url, secondary.url));

  const res = await post(
    `${proxy.url}/v1/chat/completions`,
    { model: "anthropic/claude-sonnet-4", messages: [{ role: "user", content: "Hello" }], stream: false },
    { authorization: "Bearer sk-your-unified-api-key" },
  );
  expect(res.status).toBe(200);
  expect(((await res.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe("from primary");
  const got = primary.received[0]!;
  expect(got.url.pathname).toBe("/v1/chat/completions");
  expect(got.headers.get("authorization")).toBe("Bearer sk-primary-xxx");
  expect(modelOf(got)).toBe("claude-sonnet-4");
  expect(secondary.received.length).toBe(0);
});

test("the original's example config lists only the enabled alias and needs its key to proxy", async () => {
  await using primary = new FakeProvider((r) => Response.json(chatCompletion("from primary", modelOf(r))));
  await using secondary = new FakeProvider(() => Response.json(chatCompletion("from secondary")));
  await using proxy = startProxy(await originalConfig(primary.url, secondary.url));

  const models = (await (await fetch(`${proxy.url}/v1/models`)).json()) as { data: { id: string }[] };
  expect(models.data.map((m) => m.id)).toEqual(["anthropic/claude-sonnet-4"]);
  expect((await post(`${proxy.url}/v1/chat/completions`, { model: "anthropic/claude-sonnet-4" })).status).toBe(401);
  expect((await post(`${proxy.url}/v1/chat/completions`, { model: "openai/gpt-4o" }, { authorization: "Bearer sk-your-unified-api-key" })).status).toBe(404);
  expect(primary.received.length).toBe(0);
});

test("with the original's example config a failing primary is cooled down and its answer returned, masked", async () => {
  await using primary = new FakeProvider(() => Response.json({ error: { message: "insufficient_quota for key sk-primary-xxx" } }, { status: 429 }));
  await using secondary = new FakeProvider(() => Response.json(chatCompletion("from secondary")));
  await using proxy = startProxy(await originalConfig(primary.url, secondary.url));
  const headers = { "x-api-key": "sk-your-unified-api-key" };

  const first = await post(`${proxy.url}/v1/messages`, { model: "anthropic/claude-sonnet-4", max_tokens: 8, messages: [] }, headers);
  expect(first.status).toBe(429);
  const text = await first.text();
  expect(text).toContain("insufficient_quota");
  expect(text).not.toContain("sk-primary-xxx");

  // cooldown_seconds: 300 in the example: the only route now waits, and the disabled L2 alias adds nothing.
  const second = await post(`${proxy.url}/v1/messages`, { model: "anthropic/claude-sonnet-4", max_tokens: 8, messages: [] }, headers);
  expect(second.status).toBe(503);
  expect(Number(second.headers.get("retry-after"))).toBeGreaterThan(200);
  expect(primary.received.length).toBe(1);
  expect(secondary.received.length).toBe(0);
});
