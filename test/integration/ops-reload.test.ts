import { afterAll, describe, expect, test } from "bun:test";
import { POLL_INTERVAL_MS } from "../../src/config/reload.ts";
import { chatCompletion, echo, FakeProvider, modelOf, waitFor } from "../helpers/fake-provider.ts";
import { post } from "../helpers/http.ts";
import { killAllProxies, ProxyProcess } from "../helpers/proxy-process.ts";

afterAll(killAllProxies);

const KEY = "sk-proxy-reload-0123456789abcdef";
const AUTH = { authorization: `Bearer ${KEY}` };

/** A config with one backend `a` and one route per alias, to `real-<alias>`; `tail` is appended as is. */
function yaml(url: string, aliases: string[] = ["m"], tail = ""): string {
  const models = aliases.map((alias) => `  ${JSON.stringify(alias)}:\n    routes:\n      - { backend: a, model: "real-${alias}" }`).join("\n");
  return `listen: "127.0.0.1:0"\nproxy_api_key: ${KEY}\nbackends:\n  - { name: a, url: "${url}/v1" }\nmodels:\n${models}\n${tail}`;
}

const ask = (proxy: ProxyProcess, model: string) => post(`${proxy.url}/v1/chat/completions`, { model, messages: [] }, AUTH);

async function modelIds(proxy: ProxyProcess): Promise<string[]> {
  const body = (await (await fetch(`${proxy.url}/v1/models`)).json()) as { data: { id: string }[] };
  return body.data.map((m) => m.id);
}

/** Waits for `text` in the log after `from`, sending a request now and then so the request-path check runs too. */
async function untilLogged(proxy: ProxyProcess, text: string, from: number): Promise<void> {
  await waitFor(async () => {
    if (proxy.stdout.indexOf(text, from) >= 0) return true;
    await fetch(`${proxy.url}/health`);
    return proxy.stdout.indexOf(text, from) >= 0;
  }, `"${text}" in the log; stdout:\n${proxy.stdout}`, 15_000);
}

/**
 * The request path stats the file at most once per POLL_INTERVAL_MS. To show that the
 * request itself (not a watcher, not luck) picks the change up, the last check must be
 * that long ago: this waits out the documented interval, it does not wait for the effect.
 */
async function pastPollInterval(lastAnswerAt: number): Promise<void> {
  const left = lastAnswerAt + POLL_INTERVAL_MS + 20 - Date.now();
  if (left > 0) await Bun.sleep(left);
}

describe("hot reload of the real process", () => {
  test("a new alias is served by the very next request after the file is written, and a removed one is gone", async () => {
    await using provider = new FakeProvider(echo);
    await using proxy = await ProxyProcess.start(yaml(provider.url));

    expect((await ask(proxy, "fresh")).status).toBe(404);
    // The proxy checked the file before it answered: count the interval from the answer.
    let answeredAt = Date.now();
    await pastPollInterval(answeredAt);
    proxy.writeConfig(yaml(provider.url, ["m", "fresh"]));
    const added = await ask(proxy, "fresh");
    expect(added.status).toBe(200);
    expect(added.headers.get("x-llm-proxy-model")).toBe("real-fresh");
    expect(modelOf(provider.received.at(-1)!)).toBe("real-fresh");

    expect(await modelIds(proxy)).toEqual(["m", "fresh"]);
    answeredAt = Date.now();
    await pastPollInterval(answeredAt);
    proxy.writeConfig(yaml(provider.url, ["fresh"]));
    expect((await ask(proxy, "m")).status).toBe(404);
    await proxy.waitForOutput("[INFO] config reloaded: models -m\n", "the reload's summary");
  });

  test("an invalid file is refused with the problem's path, and the old configuration keeps serving", async () => {
    await using provider = new FakeProvider(echo);
    await using proxy = await ProxyProcess.start(yaml(provider.url));
    const mark = proxy.stdout.length;
    proxy.writeConfig(yaml(provider.url, ["m"], `  "gpt-4o":\n    routes:\n      - { backend: a, model: g, priority: high }\n`));

    await untilLogged(proxy, `models."gpt-4o".routes[0].priority: expected a whole number, got "high"\n`, mark);
    const logged = proxy.stdout.slice(mark);
    expect(logged).toContain(`[ERROR] ${proxy.configPath} not reloaded (the previous configuration keeps serving): configuration has 1 error:\n`);
    expect(logged).toContain(`  models."gpt-4o".routes[0].priority: expected a whole number, got "high"\n`);
    expect(logged).not.toContain("config reloaded");

    const served = await ask(proxy, "m");
    expect(served.status).toBe(200);
    expect((await ask(proxy, "gpt-4o")).status).toBe(404);
    expect(await modelIds(proxy)).toEqual(["m"]);

    // Fixed, it is taken.
    const fixedMark = proxy.stdout.length;
    proxy.writeConfig(yaml(provider.url, ["gpt-4o", "m"]));
    await untilLogged(proxy, "config reloaded", fixedMark);
    expect((await ask(proxy, "gpt-4o")).status).toBe(200);
  });

  test("a YAML syntax error in a new file is rejected with one error, its line and a caret, as --check shows it", async () => {
    await using provider = new FakeProvider(echo);
    await using proxy = await ProxyProcess.start(yaml(provider.url));
    const mark = proxy.stdout.length;
    // A tab for indentation: yaml itself reports this one mistake three times.
    proxy.writeConfig(yaml(provider.url).replace("      - { backend: a", "\t- { backend: a"));
    await untilLogged(proxy, "    | ^\n", mark);
    const logged = proxy.stdout.slice(mark);
    expect(logged).toContain(
      [
        `[ERROR] ${proxy.configPath} not reloaded (the previous configuration keeps serving): configuration has 1 error:`,
        `  ${proxy.configPath}: YAML syntax error at line 8, column 1: Tabs are not allowed as indentation: indent with spaces`,
        "    8 | \t- { backend: a, model: \"real-m\" }",
        "      | ^",
        "",
      ].join("\n"),
    );
    expect((await ask(proxy, "m")).status).toBe(200);
  });

  test("a reload to a file that serves nothing is applied, as at start-up, and logged with one error line naming the cause", async () => {
    await using provider = new FakeProvider(echo);
    await using proxy = await ProxyProcess.start(yaml(provider.url));
    const mark = proxy.stdout.length;
    proxy.writeConfig(yaml(provider.url).replace("backends:", "backend:"));
    await untilLogged(proxy, "nothing to serve", mark);
    await proxy.waitForOutput(/nothing to serve[^\n]*\n/, "the whole line", mark);
    const errors = proxy.stdout.slice(mark).split("\n").filter((l) => l.includes("[ERROR]"));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toEndWith('[ERROR] nothing to serve: no backends are defined ("backend:" is an unknown key: did you mean "backends:"?). llm-proxy starts, but answers 503 to every request for a model');
    expect((await ask(proxy, "m")).status).toBe(503);
  });

  test("a file replaced by renaming a temporary file over it is seen", async () => {
    await using provider = new FakeProvider(echo);
    await using proxy = await ProxyProcess.start(yaml(provider.url));
    expect((await ask(proxy, "renamed")).status).toBe(404);
    await pastPollInterval(Date.now());
    proxy.replaceConfig(yaml(provider.url, ["m", "renamed"]));
    expect((await ask(proxy, "renamed")).status).toBe(200);

    // And the replaced file is still followed: a second replace is seen too.
    const mark = proxy.stdout.length;
    proxy.replaceConfig(yaml(provider.url, ["renamed"]));
    await untilLogged(proxy, "config reloaded: models -m", mark);
    expect(await modelIds(proxy)).toEqual(["renamed"]);
  });

  test("a pair cooling down before a reload is still cooling, and still skipped, after it", async () => {
    await using provider = new FakeProvider((r) => (modelOf(r) === "busy" ? Response.json({ error: { message: "slow down" } }, { status: 429 }) : echo(r)));
    const config = (aliases: string) => `listen: "127.0.0.1:0"
proxy_api_key: ${KEY}
backends:
  - { name: a, url: "${provider.url}/v1" }
  - { name: b, url: "${provider.url}/v1" }
models:
  m:
    routes:
      - { backend: a, model: busy, priority: 1 }
      - { backend: b, model: spare, priority: 2 }
${aliases}
fallback:
  cooldown_seconds: 300
`;
    await using proxy = await ProxyProcess.start(config(""));
    const first = await ask(proxy, "m");
    expect(first.status).toBe(200);
    expect(first.headers.get("x-llm-proxy-backend")).toBe("b");
    const busyCalls = () => provider.received.filter((r) => modelOf(r) === "busy").length;
    expect(busyCalls()).toBe(1);

    const cooling = async () => ((await (await fetch(`${proxy.url}/status`, { headers: AUTH })).json()) as { cooldowns: { backend: string; model: string; status: number }[] }).cooldowns;
    expect((await cooling()).map((c) => [c.backend, c.model, c.status])).toEqual([["a", "busy", 429]]);

    const mark = proxy.stdout.length;
    proxy.writeConfig(config(`  other:\n    routes:\n      - { backend: b, model: other }`));
    await untilLogged(proxy, "config reloaded: models +other", mark);

    expect((await cooling()).map((c) => [c.backend, c.model, c.status])).toEqual([["a", "busy", 429]]);
    const second = await ask(proxy, "m");
    expect(second.status).toBe(200);
    expect(second.headers.get("x-llm-proxy-backend")).toBe("b");
    expect(second.headers.get("x-llm-proxy-attempts")).toBe("1");
    expect(busyCalls()).toBe(1);
  });

  test("SIGHUP forces a re-read even when the file did not change", async () => {
    await using provider = new FakeProvider(echo);
    await using proxy = await ProxyProcess.start(yaml(provider.url));
    // A request proves start-up finished, so the SIGHUP handler is installed.
    expect((await fetch(`${proxy.url}/health`)).status).toBe(200);
    const mark = proxy.stdout.length;
    proxy.signal("SIGHUP");
    await proxy.waitForOutput("[INFO] config reloaded: no changes\n", "a reload after SIGHUP", mark);
    expect((await ask(proxy, "m")).status).toBe(200);
    expect(proxy.exitCode).toBeUndefined();
  });

  test("a reload logs one line naming what changed, without any key", async () => {
    await using provider = new FakeProvider(echo);
    const before = `listen: "127.0.0.1:0"
proxy_api_key: ${KEY}
backends:
  - { name: a, url: "${provider.url}/v1", api_key: sk-backend-old-0123456789abcdef }
models:
  m: { routes: [{ backend: a, model: x }] }
fallback: { cooldown_seconds: 10 }
`;
    const after = `listen: "127.0.0.1:0"
proxy_api_key: ${KEY}
backends:
  - { name: a, url: "${provider.url}/v1", api_key: sk-backend-new-0123456789abcdef }
  - { name: c, url: "${provider.url}/v1" }
models:
  n: { routes: [{ backend: c, model: y }] }
fallback: { cooldown_seconds: 20 }
logging: { level: debug }
`;
    await using proxy = await ProxyProcess.start(before);
    const mark = proxy.stdout.length;
    proxy.writeConfig(after);
    await untilLogged(proxy, "config reloaded", mark);
    await proxy.waitForOutput(/config reloaded[^\n]*\n/, "the whole summary line", mark);
    const lines = proxy.stdout.slice(mark).split("\n").filter((l) => l.includes("config reloaded"));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\] \[INFO\] config reloaded: backends \+c ~a; models \+n -m; settings: fallback\.cooldown_seconds 10 → 20, logging\.level info → debug$/);
    expect(proxy.output).not.toContain("sk-backend-");
  });
});
