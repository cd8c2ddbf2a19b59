import { afterAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chatChunk, chatCompletion, FakeProvider, waitFor, type Received } from "../helpers/fake-provider.ts";
import { post } from "../helpers/http.ts";
import { killAllProxies, ProxyProcess } from "../helpers/proxy-process.ts";

afterAll(killAllProxies);

// Keys in their real shapes, plus a short one and a proxy key with characters that
// URL-encoding and JSON-escaping change, so each form is a different string.
const ANTHROPIC = "sk-ant-api03-Xq3vR9tLm2Kp7Wd4Hs8Jf1Nc6Bz0Ay5Ue-Gi_Ov2"; // 13 + 40
const GOOGLE = "AIzaSyB7x9Qw2Er5Ty8Ui1Op4As6Df3Gh0Jk2Lz"; // 4 + 35
const SHORT = 'Zq7+Wm/x="K2'; // 12
const PROXY = 'pk/live+9Q=Tz8r7"Ws-proxy-key';
const KEYS = { ANTHROPIC, GOOGLE, SHORT, PROXY };

/** Every form a key can take in a log line. */
const forms = (key: string) => [...new Set([key, encodeURIComponent(key), JSON.stringify(key).slice(1, -1), new URLSearchParams({ k: key }).toString().slice(2)])];
const yamlQuote = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** Every file under `dir`, recursively, with its text. */
function allFiles(dir: string): { path: string; text: string }[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => {
      const path = join(e.parentPath, e.name);
      return { path, text: readFileSync(path, "utf8") };
    });
}

/** The key a provider was sent, whichever header carried it. */
const keyOf = (r: Received) => r.headers.get("x-api-key") ?? r.headers.get("x-goog-api-key") ?? r.headers.get("authorization")?.replace(/^Bearer /, "") ?? "";

describe("masking in every log of the real process", () => {
  test("no configured key appears in any log file or on the console, as is, URL-encoded or JSON-escaped", async () => {
    // Providers that refuse the key and quote it back, as real ones do.
    await using refusing = new FakeProvider((r) => Response.json({ error: { message: `Incorrect API key provided: ${keyOf(r)}`, type: "invalid_request_error" } }, { status: 401 }));
    await using streaming = new FakeProvider((r) => new Response(`${chatChunk(`your key ${keyOf(r)}`)}data: [DONE]\n\n`, { headers: { "content-type": "text/event-stream" } }));
    await using answering = new FakeProvider((r) => Response.json(chatCompletion(`echo ${keyOf(r)}`)));
    const yaml = `listen: "127.0.0.1:0"
proxy_api_key: ${yamlQuote(PROXY)}
backends:
  - { name: ant, url: "${refusing.url}/v1", api_key: ${ANTHROPIC}, auth: x-api-key }
  - { name: goo, url: "${refusing.url}/v1beta", auth: none, headers: { x-goog-api-key: ${GOOGLE} } }
  - { name: short, url: "${refusing.url}/v1", api_key: ${yamlQuote(SHORT)} }
  - { name: streams, url: "${streaming.url}/v1", api_key: ${yamlQuote(SHORT)} }
  - { name: fine, url: "${answering.url}/v1", api_key: ${ANTHROPIC}, auth: x-api-key }
models:
  bad:
    routes:
      - { backend: ant, model: a, priority: 1 }
      - { backend: goo, model: g, priority: 2 }
      - { backend: short, model: s, priority: 3 }
  flow: { routes: [{ backend: streams, model: f }] }
  ok: { routes: [{ backend: fine, model: o }] }
fallback: { cooldown_seconds: 0 }
logging:
  level: debug
  general_file: ./logs/proxy.log
  separate_files: true
  request_dir: ./logs/requests
  error_dir: ./logs/errors
  enable_metrics: true
  max_files: 0
  max_age_days: 0
`;
    await using proxy = await ProxyProcess.start(yaml);
    const auth = { "x-api-key": PROXY };
    const content = `keys: ${ANTHROPIC} ${GOOGLE} ${SHORT} ${PROXY}`;

    const failures = [
      await post(`${proxy.url}/v1/chat/completions?key=${encodeURIComponent(ANTHROPIC)}`, { model: "bad", messages: [{ role: "user", content }] }, auth),
      await post(`${proxy.url}/v1/chat/completions?key=${encodeURIComponent(SHORT)}&api_key=${encodeURIComponent(GOOGLE)}`, { model: "bad", messages: [{ role: "user", content }] }, { authorization: `Bearer ${PROXY}` }),
      await post(`${proxy.url}/v1beta/models/bad:generateContent?key=${encodeURIComponent(PROXY)}`, { model: "bad", contents: [{ parts: [{ text: content }] }] }, auth),
    ];
    const answered = [
      await post(`${proxy.url}/v1/chat/completions?key=${encodeURIComponent(SHORT)}`, { model: "flow", stream: true, messages: [{ role: "user", content }] }, auth),
      await post(`${proxy.url}/v1/chat/completions`, { model: "ok", messages: [{ role: "user", content }] }, auth),
    ];
    // A wrong proxy key is refused; the key it tried is the client's own and never configured.
    expect((await post(`${proxy.url}/v1/chat/completions`, { model: "ok" }, { "x-api-key": "wrong" })).status).toBe(401);

    for (const res of failures) {
      expect(res.status).toBe(401);
      const body = await res.text();
      // The client gets the provider's last answer with the key in it masked.
      expect(body).toContain("Incorrect API key provided: ****");
      for (const key of Object.values(KEYS)) for (const form of forms(key)) expect(body).not.toContain(form);
    }
    for (const res of answered) expect(res.status).toBe(200);
    await Promise.all(answered.map((res) => res.text()));

    // Wait for every request's files and its metrics line: then all its log lines are on disk.
    const logs = join(proxy.dir, "logs");
    const ids = [...failures, ...answered].map((r) => r.headers.get("x-request-id")!);
    await waitFor(() => {
      const files = allFiles(logs);
      const general = files.filter((f) => f.path.includes("proxy_")).map((f) => f.text).join("");
      return ids.every((id) => general.includes(`[${id}] metrics alias=`) && files.some((f) => f.path.endsWith(`_${id}.log`)));
    }, "every request's metrics line and file");
    proxy.signal("SIGTERM");
    expect(await proxy.exit()).toBe(0);

    const files = allFiles(logs);
    expect(files.filter((f) => f.path.includes(`${join(logs, "requests")}/`))).toHaveLength(5);
    expect(files.filter((f) => f.path.includes(`${join(logs, "errors")}/`))).toHaveLength(3);
    const everything = [...files, { path: "stdout", text: proxy.stdout }, { path: "stderr", text: proxy.stderr }];

    // The logs did see the keys, masked: the body at debug level, the query in the request files.
    const general = files.filter((f) => f.path.includes("proxy_")).map((f) => f.text).join("");
    expect(general).toContain(`"content":"keys: sk-an****_Ov2 AIzaS****k2Lz **** pk/li****-key"`);
    expect(general).toContain(`"x-api-key":"pk/li****-key"`);
    const dumps = files.filter((f) => f.path.includes("requests")).map((f) => f.text).join("");
    expect(dumps).toContain("POST /v1/chat/completions?key=sk-an****_Ov2 model=bad");
    expect(dumps).toContain("POST /v1/chat/completions?key=****&api_key=AIzaS****k2Lz model=bad");

    const leaks: string[] = [];
    for (const { path, text } of everything) {
      for (const [name, key] of Object.entries(KEYS)) {
        for (const form of forms(key)) if (text.includes(form)) leaks.push(`${name} (${JSON.stringify(form)}) in ${path}`);
      }
    }
    expect(leaks).toEqual([]);
  });
});
