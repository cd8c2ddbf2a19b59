import { expect, test } from "bun:test";
import { chatChunk, FakeProvider, ScriptedStream } from "../helpers/fake-provider.ts";
import { startProxy } from "../helpers/proxy.ts";

test("streams in lock-step: chunk k+1 leaves the provider only after the client has chunk k", async () => {
  const stream = new ScriptedStream();
  await using provider = new FakeProvider(() => stream.response());
  await using proxy = startProxy(`
backends:
  - name: p
    url: ${provider.url}/v1
    api_key: sk-backend-key-000000000
models:
  m:
    routes:
      - backend: p
        model: real
`);
  const pending = fetch(`${proxy.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify({ model: "m", stream: true }) });
  await provider.waitForRequests(1);
  stream.send(chatChunk("c0"));
  const res = await pending;
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let seen = "";
  for (let k = 0; k < 5; k++) {
    while (!seen.includes(`"c${k}"`)) {
      const { value, done } = await reader.read();
      expect(done).toBe(false);
      seen += decoder.decode(value, { stream: true });
    }
    expect(seen).not.toContain(`"c${k + 1}"`);
    stream.send(chatChunk(`c${k + 1}`));
  }
  stream.send("data: [DONE]\n\n");
  stream.end();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += decoder.decode(value, { stream: true });
  }
  expect(seen.endsWith("data: [DONE]\n\n")).toBe(true);
});
