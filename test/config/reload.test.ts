import { afterAll, describe, expect, test } from "bun:test";
import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../src/config/load.ts";
import type { Problem } from "../../src/config/problems.ts";
import { summarizeChanges } from "../../src/config/changes.ts";
import { ConfigReloader, type ConfigReloaderOptions, describeRejection, type ReloadReason } from "../../src/config/reload.ts";
import type { Config } from "../../src/config/types.ts";

const root = mkdtempSync(join(tmpdir(), "llm-proxy-reload-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const OPENAI_KEY = "sk-openai-secret-0000000000000001";

/** A small valid configuration; `extra` is appended as more top-level YAML. */
function yaml(extra = ""): string {
  return `listen: "127.0.0.1:8080"
backends:
  - name: openai
    url: http://127.0.0.1:9/v1
    api_key: ${OPENAI_KEY}
models:
  gpt-4o:
    routes:
      - {backend: openai, model: gpt-4o}
${extra}`;
}

const WITH_ANTHROPIC = yaml(`  claude:
    routes:
      - {backend: anthropic, model: claude-sonnet-4-5}
`).replace("models:", "  - name: anthropic\n    url: http://127.0.0.1:9\n    auth: x-api-key\nmodels:");

function parse(text: string, file = "test.yaml"): Config {
  const { config, problems } = parseConfig(text, file, {});
  if (!config) throw new Error(`test config is invalid: ${problems.join("; ")}`);
  return config;
}

/** Waits for a condition that a watcher or signal makes true; generous bound for a loaded machine. */
async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

interface Reloaded {
  config: Config;
  summary: string;
  reason: ReloadReason;
}

/** A config file in its own folder and a reloader on it, with a clock the test moves and every callback recorded. */
function setup(text: string, options: Partial<ConfigReloaderOptions> & { file?: string } = {}) {
  const folder = mkdtempSync(join(root, "case-"));
  const path = options.file ?? join(folder, "config.yaml");
  if (!options.file) writeFileSync(path, text);
  const initial = parse(text, path);
  const reloads: Reloaded[] = [];
  const rejected: { problems: Problem[]; reason: ReloadReason }[] = [];
  const listens: [string, string][] = [];
  const missing: string[] = [];
  let clock = 1_000_000;
  const reloader = new ConfigReloader({
    path,
    current: initial,
    text,
    env: {},
    now: () => clock,
    onReload: (config, summary, reason) => reloads.push({ config, summary, reason }),
    onRejected: (problems, reason) => rejected.push({ problems, reason }),
    onListenChanged: (from, to) => listens.push([from, to]),
    onMissing: (file, detail) => missing.push(`${file}: ${detail}`),
    ...options,
  });
  return {
    folder,
    path,
    initial,
    reloader,
    reloads,
    rejected,
    listens,
    missing,
    /** Moves the test clock on and returns it. */
    after(ms: number): number {
      clock += ms;
      return clock;
    },
    [Symbol.dispose]: () => reloader.stop(),
  };
}

/** Replaces a file the way editors do: write a temporary file, rename it over the original. */
function replace(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

describe("maybeReload on the request path", () => {
  test("applies a valid change on the first check after writing, stat-ing at most once per 100 ms", () => {
    using s = setup(yaml());
    s.reloader.maybeReload(s.after(0));
    expect(s.reloads).toEqual([]);

    writeFileSync(s.path, WITH_ANTHROPIC);
    s.reloader.maybeReload(s.after(99));
    expect(s.reloads).toEqual([]);
    expect(s.reloader.config).toBe(s.initial);

    s.reloader.maybeReload(s.after(1));
    expect(s.reloads.map((r) => [r.summary, r.reason])).toEqual([["config reloaded: backends +anthropic; models +claude", "poll"]]);
    expect(s.reloader.config).toBe(s.reloads[0]!.config);
    expect([...s.reloader.config.aliases.keys()]).toEqual(["gpt-4o", "claude"]);
  });

  test("a change made between the load and the first check is applied by that check", () => {
    using s = setup(yaml());
    writeFileSync(s.path, WITH_ANTHROPIC);
    s.reloader.maybeReload(s.after(0));
    expect(s.reloads.map((r) => r.summary)).toEqual(["config reloaded: backends +anthropic; models +claude"]);
  });

  test("a clock that went backwards does not stop the checks", () => {
    using s = setup(yaml());
    s.reloader.maybeReload(s.after(0));
    writeFileSync(s.path, WITH_ANTHROPIC);
    s.reloader.maybeReload(s.after(-60_000));
    expect(s.reloads).toHaveLength(1);
  });

  test("rejects an invalid change with its path, keeps the old configuration, and reports it once", () => {
    using s = setup(yaml());
    const invalid = yaml().replace("{backend: openai, model: gpt-4o}", '{backend: openai, model: gpt-4o, priority: "high"}');
    writeFileSync(s.path, invalid);
    s.reloader.maybeReload(s.after(100));
    expect(s.reloads).toEqual([]);
    expect(s.reloader.config).toBe(s.initial);
    expect(s.rejected).toHaveLength(1);
    const errors = s.rejected[0]!.problems.filter((p) => p.severity === "error").map(String);
    expect(errors).toEqual(['models."gpt-4o".routes[0].priority: expected a whole number, got "high"']);
    expect(describeRejection(s.rejected[0]!.problems, s.path)).toBe(
      `${s.path} not reloaded (the previous configuration keeps serving): configuration has 1 error:\n  models."gpt-4o".routes[0].priority: expected a whole number, got "high"`,
    );

    // The same bad bytes again (a new modification time) are not reported again...
    s.reloader.maybeReload(s.after(100));
    writeFileSync(s.path, invalid);
    utimesSync(s.path, new Date(), new Date(Date.now() + 5_000));
    s.reloader.maybeReload(s.after(100));
    expect(s.rejected).toHaveLength(1);
    // ...unless a re-read is forced.
    expect(s.reloader.reload("manual")).toBe(false);
    expect(s.rejected.map((r) => r.reason)).toEqual(["poll", "manual"]);

    writeFileSync(s.path, WITH_ANTHROPIC);
    s.reloader.maybeReload(s.after(100));
    expect(s.reloads.map((r) => r.summary)).toEqual(["config reloaded: backends +anthropic; models +claude"]);
  });

  test("a YAML syntax error is rejected with the file named, as at start-up", () => {
    using s = setup(yaml());
    writeFileSync(s.path, "models: [\n");
    s.reloader.maybeReload(s.after(100));
    expect(s.rejected[0]!.problems.map(String)).toEqual([
      `${s.path}: YAML syntax error at line 1, column 9: Flow sequence in block collection must be sufficiently indented and end with a ]: the [ opened here is not closed\n  1 | models: [\n    |         ^`,
    ]);
    expect(s.reloader.config).toBe(s.initial);
  });

  test("identical bytes do not reload, even with a new modification time; a comment-only edit reloads with no changes", () => {
    using s = setup(yaml());
    writeFileSync(s.path, yaml());
    utimesSync(s.path, new Date(), new Date(Date.now() + 5_000));
    s.reloader.maybeReload(s.after(100));
    expect(s.reloads).toEqual([]);

    writeFileSync(s.path, `# edited\n${yaml()}`);
    s.reloader.maybeReload(s.after(100));
    expect(s.reloads.map((r) => r.summary)).toEqual(["config reloaded: no changes"]);
    expect(s.reloader.config).not.toBe(s.initial);
  });

  test("a file missing for a moment is retried, not rejected; one that stays missing is reported once", () => {
    using s = setup(yaml());
    unlinkSync(s.path);
    s.reloader.maybeReload(s.after(100));
    s.reloader.maybeReload(s.after(500));
    expect(s.rejected).toEqual([]);
    expect(s.missing).toEqual([]);
    s.reloader.maybeReload(s.after(600));
    s.reloader.maybeReload(s.after(5_000));
    expect(s.missing).toEqual([`${s.path}: not found`]);
    expect(s.reloader.config).toBe(s.initial);

    writeFileSync(s.path, WITH_ANTHROPIC);
    s.reloader.maybeReload(s.after(100));
    expect(s.reloads.map((r) => r.summary)).toEqual(["config reloaded: backends +anthropic; models +claude"]);
    expect(s.rejected).toEqual([]);

    // A later disappearance gets its own grace and its own report.
    unlinkSync(s.path);
    s.reloader.maybeReload(s.after(100));
    s.reloader.maybeReload(s.after(100));
    expect(s.missing).toHaveLength(1);
    s.reloader.maybeReload(s.after(1_000));
    expect(s.missing).toHaveLength(2);
    // A forced re-read (SIGHUP) of a missing file is answered at once.
    expect(s.reloader.reload("signal")).toBe(false);
    expect(s.rejected.map((r) => r.problems.map(String))).toEqual([[`cannot read the config file ${s.path}: not found`]]);
  });

  test("a truncated, empty file is a save in progress, not an empty configuration", () => {
    using s = setup(yaml());
    writeFileSync(s.path, "");
    s.reloader.maybeReload(s.after(100));
    expect(s.reloads).toEqual([]);
    appendFileSync(s.path, WITH_ANTHROPIC);
    s.reloader.maybeReload(s.after(100));
    expect(s.reloads.map((r) => r.summary)).toEqual(["config reloaded: backends +anthropic; models +claude"]);
  });

  test("a changed listen is applied as a value but reported as needing a restart", () => {
    using s = setup(yaml());
    writeFileSync(s.path, yaml().replace("127.0.0.1:8080", "127.0.0.1:9090"));
    s.reloader.maybeReload(s.after(100));
    expect(s.reloads.map((r) => r.summary)).toEqual(['config reloaded: listen "127.0.0.1:9090" needs a restart (still listening on "127.0.0.1:8080")']);
    expect(s.listens).toEqual([["127.0.0.1:8080", "127.0.0.1:9090"]]);

    writeFileSync(s.path, yaml());
    s.reloader.maybeReload(s.after(100));
    expect(s.reloads[1]!.summary).toBe('config reloaded: listen "127.0.0.1:8080": the address in use');
    expect(s.listens).toHaveLength(1);
  });
});

describe("watching the file and its folder", () => {
  test("a rename-replace is seen by the watcher, and the next one too", async () => {
    using s = setup(yaml());
    s.reloader.start();
    replace(s.path, WITH_ANTHROPIC);
    await until(() => s.reloads.length === 1, "the first replace to be applied");
    replace(s.path, yaml());
    await until(() => s.reloads.length === 2, "the second replace to be applied");
    expect(s.reloads.map((r) => [r.summary, r.reason])).toEqual([
      ["config reloaded: backends +anthropic; models +claude", "watch"],
      ["config reloaded: backends -anthropic; models -claude", "watch"],
    ]);
    expect(s.rejected).toEqual([]);
  });

  test("a file missing when watching starts is picked up when it appears", async () => {
    using s = setup(yaml());
    unlinkSync(s.path);
    s.reloader.start();
    replace(s.path, WITH_ANTHROPIC);
    await until(() => s.reloads.length === 1, "the new file to be applied");
    expect(s.reloads[0]!.summary).toBe("config reloaded: backends +anthropic; models +claude");
    // And its own watcher is open now: an in-place write is seen too.
    writeFileSync(s.path, yaml());
    await until(() => s.reloads.length === 2, "the write to be applied");
  });

  test("an in-place write is seen by the watcher", async () => {
    using s = setup(yaml());
    s.reloader.start();
    writeFileSync(s.path, WITH_ANTHROPIC);
    await until(() => s.reloads.length === 1, "the write to be applied");
    expect(s.reloads[0]!.summary).toBe("config reloaded: backends +anthropic; models +claude");
  });

  test("a save in several writes is one reload of the whole file, never a rejection of a part", async () => {
    using s = setup(yaml());
    s.reloader.start();
    const cut = WITH_ANTHROPIC.indexOf("  - {backend: anthropic");
    writeFileSync(s.path, `${WITH_ANTHROPIC.slice(0, cut)}  - {backend: anthropic, model: `);
    // The first part's event has arrived: it must wait for the rest, not be checked alone.
    await until(() => s.reloader.pending, "the first write's event");
    appendFileSync(s.path, WITH_ANTHROPIC.slice(cut).replace("  - {backend: anthropic, model: ", ""));
    await until(() => s.reloads.length === 1, "the save to be applied");
    // A later change shows that nothing more was pending from the burst.
    replace(s.path, yaml());
    await until(() => s.reloads.length === 2, "the later change to be applied");
    expect(s.reloads.map((r) => r.summary)).toEqual([
      "config reloaded: backends +anthropic; models +claude",
      "config reloaded: backends -anthropic; models -claude",
    ]);
    expect(s.rejected).toEqual([]);
  });

  test("a Kubernetes-style ..data symlink swap is seen, and later writes to the new target too", async () => {
    const folder = mkdtempSync(join(root, "k8s-"));
    mkdirSync(join(folder, "..2024_01"));
    writeFileSync(join(folder, "..2024_01", "config.yaml"), yaml());
    symlinkSync("..2024_01", join(folder, "..data"));
    symlinkSync(join("..data", "config.yaml"), join(folder, "config.yaml"));
    using s = setup(yaml(), { file: join(folder, "config.yaml") });
    s.reloader.start();

    // What the kubelet does: a new timestamped folder, a new ..data link renamed over the old one.
    mkdirSync(join(folder, "..2024_02"));
    writeFileSync(join(folder, "..2024_02", "config.yaml"), WITH_ANTHROPIC);
    symlinkSync("..2024_02", join(folder, "..data_tmp"));
    renameSync(join(folder, "..data_tmp"), join(folder, "..data"));
    // Only the folder watcher sees the swap: the old file is still there, unchanged.
    await until(() => s.reloads.length === 1, "the swap to be applied");
    expect(s.reloads[0]!.summary).toBe("config reloaded: backends +anthropic; models +claude");

    // Only the file watcher, re-opened on the new target, can see this: the folder watched is not the target's.
    writeFileSync(join(folder, "..2024_02", "config.yaml"), yaml());
    await until(() => s.reloads.length === 2, "the write to the new target to be applied");
    expect(s.reloads[1]!.summary).toBe("config reloaded: backends -anthropic; models -claude");
    rmSync(join(folder, "..2024_01"), { recursive: true });
  });

  test("SIGHUP forces a re-read of an unchanged file, and stop() removes the handler", async () => {
    const before = process.listenerCount("SIGHUP");
    using s = setup(yaml());
    s.reloader.start();
    try {
      if (process.platform === "win32") {
        expect(process.listenerCount("SIGHUP")).toBe(before);
        return;
      }
      expect(process.listenerCount("SIGHUP")).toBe(before + 1);
      process.kill(process.pid, "SIGHUP");
      await until(() => s.reloads.length === 1, "the signal to be handled");
      expect(s.reloads.map((r) => [r.summary, r.reason])).toEqual([["config reloaded: no changes", "signal"]]);
    } finally {
      s.reloader.stop();
    }
    expect(process.listenerCount("SIGHUP")).toBe(before);
  });

  test("after stop() the watcher no longer reloads, while a started reloader on the same file does", async () => {
    using stopped = setup(yaml());
    stopped.reloader.start();
    stopped.reloader.stop();
    stopped.reloader.stop();
    using watching = setup(yaml(), { file: stopped.path });
    watching.reloader.start();
    replace(stopped.path, WITH_ANTHROPIC);
    await until(() => watching.reloads.length === 1, "the started reloader to apply the change");
    expect(stopped.reloads).toEqual([]);
  });
});

describe("summarizeChanges", () => {
  const BACKENDS = `
  - name: openai
    url: https://api.openai.com/v1
    api_key: ${OPENAI_KEY}
  - name: old
    url: https://old.example/v1
  - name: anthropic
    url: https://api.anthropic.com
    auth: x-api-key
    headers: {anthropic-version: "2023-06-01"}
`;
  const MODELS = `
  gpt-4o:
    routes:
      - {backend: openai, model: gpt-4o, priority: 1}
  claude-sonnet-4-5:
    routes:
      - {backend: anthropic, model: claude-sonnet-4-5, priority: 1}
      - {backend: openai, model: gpt-4o, priority: 2}
  legacy:
    routes:
      - {backend: old, model: davinci}
`;
  const file = (backends = BACKENDS, models = MODELS, rest = "") => parse(`backends:${backends}models:${models}${rest}`);

  test("names backends and models added, removed and changed, in the order of the example", () => {
    const next = file(
      BACKENDS.replace("https://api.openai.com/v1", "https://eu.api.openai.com/v1").replace(/  - name: old\n.*\n/, "") +
        "  - name: openrouter\n    url: https://openrouter.ai/api/v1\n",
      MODELS.replace(/  legacy:[^]*$/, "").replace("priority: 2", "priority: 3") + "  gpt-5:\n    routes:\n      - {backend: openrouter, model: openai/gpt-5}\n",
    );
    expect(summarizeChanges(file(), next)).toBe("config reloaded: backends +openrouter -old ~openai; models +gpt-5 -legacy ~claude-sonnet-4-5");
  });

  test("says no changes when nothing that matters differs", () => {
    expect(summarizeChanges(file(), parse(`# a comment\nbackends:${BACKENDS}models:${MODELS}`))).toBe("config reloaded: no changes");
    const reordered = BACKENDS.replace('headers: {anthropic-version: "2023-06-01"}', 'headers: {x-b: "2", anthropic-version: "2023-06-01"}');
    const swapped = BACKENDS.replace('headers: {anthropic-version: "2023-06-01"}', 'headers: {anthropic-version: "2023-06-01", x-b: "2"}');
    expect(summarizeChanges(file(reordered), file(swapped))).toBe("config reloaded: no changes");
  });

  test.each([
    ["api_key", (b: string) => b.replace(OPENAI_KEY, "sk-openai-secret-0000000000000002"), "backends ~openai"],
    ["url", (b: string) => b.replace("https://old.example/v1", "https://old.example/v2"), "backends ~old"],
    ["auth", (b: string) => b.replace("auth: x-api-key", "auth: bearer"), "backends ~anthropic"],
    ["headers", (b: string) => b.replace('"2023-06-01"', '"2024-01-01"'), "backends ~anthropic"],
    ["timeouts", (b: string) => `${b}    timeouts: {first_byte_seconds: 5}\n`, "backends ~anthropic"],
    // Disabling a backend takes its routes out of the aliases that used it.
    ["enabled", (b: string) => b.replace("https://old.example/v1", "https://old.example/v1\n    enabled: false"), "backends ~old; models ~legacy"],
  ])("a backend's %s is a change of that backend", (_field, edit, expected) => {
    expect(summarizeChanges(file(), file(edit(BACKENDS)))).toBe(`config reloaded: ${expected}`);
  });

  test.each([
    ["a weight", (m: string) => m.replace("model: gpt-4o, priority: 1}", "model: gpt-4o, priority: 1, weight: 2}"), "models ~gpt-4o"],
    ["a model", (m: string) => m.replace("model: davinci", "model: babbage"), "models ~legacy"],
    ["a disabled route", (m: string) => m.replace("model: davinci}", "model: davinci, enabled: false}"), "models ~legacy"],
    ["a disabled alias, which clients no longer see", (m: string) => m.replace("  legacy:\n", "  legacy:\n    enabled: false\n"), "models -legacy"],
  ])("%s is a change of the model alias", (_what, edit, expected) => {
    expect(summarizeChanges(file(), file(BACKENDS, edit(MODELS)))).toBe(`config reloaded: ${expected}`);
  });

  test("a new fallback chain changes the alias it starts from", () => {
    const next = file(BACKENDS, MODELS, "fallback:\n  alias_fallback:\n    legacy: [gpt-4o]\n");
    expect(summarizeChanges(file(), next)).toBe("config reloaded: models ~legacy");
  });

  test("other settings are named as in the file", () => {
    const rest = `proxy_api_key: sk-proxy-000000000000000000000001
fallback: {cooldown_seconds: 60, max_retries: 0}
detection: {error_codes: ["429", "5xx"]}
logging: {level: info}
`;
    const changed = rest
      .replace("sk-proxy-000000000000000000000001", "sk-proxy-000000000000000000000002")
      .replace("max_retries: 0", "max_retries: 2")
      .replace('["429", "5xx"]', '["429", "500"]')
      .replace("level: info", "level: debug");
    expect(summarizeChanges(file(BACKENDS, MODELS, rest), file(BACKENDS, MODELS, changed))).toBe(
      'config reloaded: settings: proxy_api_key changed, fallback.max_retries 0 → 2, detection.error_codes ["429","5xx"] → ["429","500"], logging.level info → debug',
    );
  });

  test("each changed setting shows its old and new value in the file's units", () => {
    const rest = (cooldown: string, extra = "") => `fallback: {cooldown_seconds: ${cooldown}}\ntimeouts: {first_byte_seconds: 60}\nlimits: {max_body_mb: 32}\n${extra}`;
    expect(summarizeChanges(file(BACKENDS, MODELS, rest("60")), file(BACKENDS, MODELS, rest("30")))).toBe("config reloaded: settings: fallback.cooldown_seconds 60 → 30");
    const after = rest("0.5").replace("first_byte_seconds: 60", "first_byte_seconds: 120").replace("max_body_mb: 32", "max_body_mb: 0.5");
    expect(summarizeChanges(file(BACKENDS, MODELS, rest("60")), file(BACKENDS, MODELS, after))).toBe(
      // The top-level timeouts are every backend's too.
      "config reloaded: backends ~openai ~old ~anthropic; settings: fallback.cooldown_seconds 60 → 0.5, timeouts.first_byte_seconds 60 → 120, limits.max_body_mb 32 → 0.5",
    );
    const logs = file(BACKENDS, MODELS, `logging: {general_file: "./logs/my proxy.log"}\n`);
    expect(summarizeChanges(file(), logs)).toBe('config reloaded: settings: logging.general_file "" → "./logs/my proxy.log"');
  });

  test("a proxy key set, changed or removed is said in words, never shown", () => {
    const key = (k: string) => file(BACKENDS, MODELS, k ? `proxy_api_key: ${k}\n` : "");
    const one = "sk-proxy-000000000000000000000001";
    const two = "sk-proxy-000000000000000000000002";
    expect(summarizeChanges(key(""), key(one))).toBe("config reloaded: settings: proxy_api_key set");
    expect(summarizeChanges(key(one), key(two))).toBe("config reloaded: settings: proxy_api_key changed");
    expect(summarizeChanges(key(two), key(""))).toBe("config reloaded: settings: proxy_api_key removed");
  });

  test("a changed listen needs a restart; the same address written differently is no change", () => {
    const at = (listen: string) => parse(`listen: "${listen}"\nproxy_api_key: sk-proxy-000000000000000000000001\n`);
    expect(summarizeChanges(at("127.0.0.1:8080"), at("127.0.0.1:9090"))).toBe(
      'config reloaded: listen "127.0.0.1:9090" needs a restart (still listening on "127.0.0.1:8080")',
    );
    expect(summarizeChanges(at(":8080"), at("0.0.0.0:8080"))).toBe("config reloaded: no changes");
  });

  test("keys and header values never appear, before or after the change", () => {
    const secret = (n: number) => `sk-live-${String(n).repeat(24)}`;
    const text = (n: number) => `proxy_api_key: ${secret(n)}
backends:
  - name: p
    url: https://p.example/v1
    api_key: ${secret(n + 2)}
    headers: {x-extra-token: ${secret(n + 4)}}
`;
    const summary = summarizeChanges(parse(text(1)), parse(text(2)));
    expect(summary).toBe("config reloaded: backends ~p; settings: proxy_api_key changed");
    for (let n = 1; n <= 6; n++) expect(summary).not.toContain(secret(n).slice(8));
    expect(summary).not.toContain("sk-");
  });

  test("names that are not plain words are quoted", () => {
    const prev = parse(`models:\n  "my model; v2": {routes: []}\n`);
    expect(summarizeChanges(prev, parse(""))).toBe('config reloaded: models -"my model; v2"');
  });
});
