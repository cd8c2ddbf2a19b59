import { afterAll, describe, expect, test } from "bun:test";
import { chatChunk, FakeProvider, ScriptedStream, waitFor } from "../helpers/fake-provider.ts";
import { post, readUntil, within } from "../helpers/http.ts";
import { killAllProxies, ProxyProcess } from "../helpers/proxy-process.ts";

afterAll(killAllProxies);

const KEY = "sk-proxy-shutdown-0123456789abcdef";

const config = (url: string, tail = "") => `listen: "127.0.0.1:0"
proxy_api_key: ${KEY}
backends:
  - { name: up, url: "${url}/v1" }
models:
  m: { routes: [{ backend: up, model: real }] }
${tail}`;

/** True when a new TCP connection to the proxy's port is refused. */
function refused(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    Bun.connect({
      hostname,
      port: Number(port),
      socket: {
        open(socket) {
          socket.end();
          resolve(false);
        },
        data() {},
        connectError() {
          resolve(true);
        },
      },
    }).catch(() => resolve(true));
  });
}

/** Starts a stream through the proxy and reads its first chunk: the provider is then in lock-step with the test. */
async function streamStarted(proxy: ProxyProcess, up: FakeProvider, stream: ScriptedStream) {
  const pending = post(`${proxy.url}/v1/chat/completions`, { model: "m", stream: true, messages: [] }, { "x-api-key": KEY });
  await up.waitForRequests(1);
  stream.send(chatChunk("first"));
  const res = await within(pending, "the stream's headers");
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const seen = { text: "" };
  await readUntil(reader, seen, (t) => t.includes('"first"'));
  return { reader, seen };
}

/** Reads the rest of a body; a cut connection ends the reading without failing it. */
async function rest(reader: { read(): Promise<{ done: boolean; value?: Uint8Array | undefined }> }, seen: { text: string }): Promise<"ended" | "cut"> {
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return "ended";
      seen.text += decoder.decode(value, { stream: true });
    }
  } catch {
    return "cut";
  }
}

describe("graceful shutdown of the real process", () => {
  test("SIGTERM stops new connections, lets the running stream finish to [DONE], then exits 0", async () => {
    const stream = new ScriptedStream();
    await using up = new FakeProvider(() => stream.response());
    await using proxy = await ProxyProcess.start(config(up.url));
    const { reader, seen } = await streamStarted(proxy, up, stream);

    const mark = proxy.stdout.length;
    proxy.signal("SIGTERM");
    await proxy.waitForOutput("[INFO] SIGTERM received; no new connections; waiting up to 30 s for 1 request in flight\n", "the shutdown notice", mark);
    await waitFor(() => refused(proxy.url), "new connections to be refused");
    expect(fetch(`${proxy.url}/health`)).rejects.toThrow();

    // The stream is still being served, and the process waits for it.
    stream.send(chatChunk("second"));
    await readUntil(reader, seen, (t) => t.includes('"second"'));
    expect(proxy.exitCode).toBeUndefined();
    stream.send("data: [DONE]\n\n");
    stream.end();
    expect(await within(rest(reader, seen), "the end of the stream")).toBe("ended");
    expect(seen.text).toEndWith("data: [DONE]\n\n");

    expect(await proxy.exit()).toBe(0);
    const after = proxy.stdout.slice(mark);
    expect(after).toContain("[INFO] stopped\n");
    expect(after).not.toContain("still in flight after the grace period");
  });

  test("with shutdown_grace_seconds 0.5 a stream that never ends is cut and the process exits 0 soon after", async () => {
    const stream = new ScriptedStream();
    await using up = new FakeProvider(() => stream.response());
    await using proxy = await ProxyProcess.start(config(up.url, "shutdown_grace_seconds: 0.5\n"));
    const { reader, seen } = await streamStarted(proxy, up, stream);

    const signalled = performance.now();
    proxy.signal("SIGTERM");
    expect(await proxy.exit(10_000)).toBe(0);
    const took = performance.now() - signalled;
    expect(took).toBeGreaterThanOrEqual(450);
    expect(took).toBeLessThan(5_000);

    expect(await within(rest(reader, seen), "the client's stream to end")).toBeOneOf(["ended", "cut"]);
    expect(seen.text).not.toContain("[DONE]");
    await within(up.received[0]!.aborted, "the provider to see the request aborted");
    expect(proxy.stdout).toContain("[INFO] SIGTERM received; no new connections; waiting up to 0.5 s for 1 request in flight\n");
    expect(proxy.stdout).toContain("[INFO] stopped\n");
  });

  test("when the grace period runs out the log warns that a request was still in flight", async () => {
    const stream = new ScriptedStream();
    await using up = new FakeProvider(() => stream.response());
    await using proxy = await ProxyProcess.start(config(up.url, "shutdown_grace_seconds: 0.2\n"));
    await streamStarted(proxy, up, stream);
    proxy.signal("SIGTERM");
    expect(await proxy.exit(10_000)).toBe(0);
    expect(proxy.stdout).toContain("[INFO] stopped\n");
    expect(proxy.stdout).toContain("[WARN] stopped with 1 request still in flight after the grace period\n");
  });

  test("SIGINT with nothing in flight exits 0 at once", async () => {
    await using up = new FakeProvider(() => new Response("unused"));
    await using proxy = await ProxyProcess.start(config(up.url));
    expect((await fetch(`${proxy.url}/health`)).status).toBe(200);
    proxy.signal("SIGINT");
    expect(await proxy.exit(10_000)).toBe(0);
    expect(proxy.stdout).toContain("[INFO] SIGINT received; no new connections\n");
    expect(proxy.stdout).toContain("[INFO] stopped\n");
  });
});
