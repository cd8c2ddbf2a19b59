import { expect } from "bun:test";
import { chatChunk, FakeProvider, ScriptedStream, waitFor } from "./fake-provider.ts";
import { RawClient } from "./raw-http.ts";

/** A config with one alias `m` on one backend, for a proxy in its own process. */
export const heldStreamsConfig = (providerUrl: string) => `
listen: "127.0.0.1:0"
backends:
  - { name: p, url: "${providerUrl}/v1" }
models:
  m: { routes: [{ backend: p, model: held }] }
timeouts: { first_byte_seconds: 30, idle_seconds: 60 }
`;

/**
 * Opens `n` streams through a proxy in its own process and checks that every one of
 * them reaches the provider while all are held open (long streams are what a team's
 * coding agents keep open; each must reach its provider now, not when another ends).
 * `start` starts the proxy in front of the given provider URL and returns its port.
 */
export async function expectStreamsAtOnce(n: number, start: (providerUrl: string) => Promise<{ port: number } & AsyncDisposable>): Promise<void> {
  const streams: ScriptedStream[] = [];
  await using provider = new FakeProvider(() => {
    const s = new ScriptedStream();
    s.send(chatChunk("first", "held"));
    streams.push(s);
    return s.response();
  });
  await using proxy = await start(provider.url);
  const body = JSON.stringify({ model: "m", stream: true });
  const clients = await Promise.all(Array.from({ length: n }, () => RawClient.connect(proxy.port)));
  let reachedAtOnce = 0;
  try {
    await Promise.all(clients.map((c) => c.post("/v1/chat/completions", body)));
    await waitFor(() => provider.received.length === n, `${n} streams at the provider`, 10_000).catch(() => {
      // Asserted below, once every stream has been let go.
    });
    reachedAtOnce = provider.received.length;
  } finally {
    // Let everything end, reached or not, so the test finishes either way.
    const ending = setInterval(() => {
      for (const s of streams.splice(0)) {
        s.send("data: [DONE]\n\n");
        s.end();
      }
    }, 20);
    await Promise.all(clients.map((c) => c.done.catch(() => undefined)));
    clearInterval(ending);
  }
  expect(reachedAtOnce).toBe(n);
}

/** Resident and peak memory of a process, in bytes (Linux: /proc/PID/status). */
export async function memoryOf(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await Bun.file(`/proc/${pid}/status`).text();
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rss: kib("VmRSS"), peak: kib("VmHWM") };
}
