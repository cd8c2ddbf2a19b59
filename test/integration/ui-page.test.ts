import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { build, fileName, hostTarget } from "../../scripts/build.ts";
import { chatCompletion, FakeProvider, modelOf, waitFor } from "../helpers/fake-provider.ts";
import { waitForListening } from "../helpers/proxy-process.ts";
import { optionalTool } from "../helpers/tools.ts";

/**
 * The status page in a real browser: Debian's Chromium, headless, driven by
 * playwright-core, against the compiled executable in front of two fake providers.
 */
const CHROMIUM = Bun.which("chromium") ?? Bun.which("chromium-browser");
const chromium = optionalTool("chromium", CHROMIUM !== null, "apt-get install chromium", "the status page in a real browser: sign-in, a cooling route with its countdown, clearing it, charts");
const KEY = "sk-ui-test-proxy-key-0123456789";
/** Screenshots go to docs/images with UPDATE_SCREENSHOTS=1 (how the ones in docs/ were made), else to a temp folder. */
const SHOTS = process.env.UPDATE_SCREENSHOTS === "1" ? join(import.meta.dir, "..", "..", "docs", "images") : mkdtempSync(join(tmpdir(), "llm-proxy-shots-"));

chromium.describe("the status page in Chromium", () => {
  const work = mkdtempSync(join(tmpdir(), "llm-proxy-ui-"));
  const exe = join(work, fileName(hostTarget()));
  let failing = false;
  const first = new FakeProvider((r) => (failing ? Response.json({ error: { message: "upstream exploded" } }, { status: 500 }) : Response.json(chatCompletion("from first", modelOf(r)))));
  const second = new FakeProvider((r) => Response.json(chatCompletion("from second", modelOf(r))));
  let proc: ReturnType<typeof Bun.spawn> | undefined;
  let url = "";
  let browser: Browser | undefined;
  let page: Page;
  const consoleErrors: string[] = [];
  const offHost: string[] = [];
  const requested: string[] = [];

  const ask = (content = "hi") =>
    fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "chat", messages: [{ role: "user", content }] }),
    });

  beforeAll(async () => {
    await build(hostTarget(), { outfile: exe, bytecode: false });
    writeFileSync(
      join(work, "config.yaml"),
      `listen: "127.0.0.1:0"
proxy_api_key: "${KEY}"
fallback: { cooldown_seconds: 120 }
usage: { database: "${join(work, "usage.db")}" }
backends:
  - name: first
    url: "${first.url}/v1"
    api_key: "sk-first-backend-secret-0000"
  - name: second
    url: "${second.url}/v1"
    api_key: "sk-second-backend-secret-1111"
models:
  chat:
    routes:
      - { backend: first, model: first-model, priority: 1 }
      - { backend: second, model: second-model, priority: 2 }
`,
    );
    const started = Bun.spawn([exe, "-config", join(work, "config.yaml")], { cwd: work, stdout: "pipe", stderr: "pipe" });
    proc = started;
    const { url: listening, reader } = await waitForListening(started);
    url = listening;
    void (async () => {
      // Keep reading, so a full pipe never stalls the proxy.
      for (;;) if ((await reader.read()).done) return;
    })();

    const { chromium: launcher } = await import("playwright-core");
    browser = await launcher.launch({ executablePath: CHROMIUM!, args: ["--no-sandbox"] });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    // Every request the page makes is recorded; one leaving 127.0.0.1 is refused and reported.
    await context.route("**/*", (route) => {
      const target = new URL(route.request().url());
      requested.push(target.pathname);
      if (target.hostname !== "127.0.0.1") {
        offHost.push(target.href);
        return route.abort();
      }
      return route.continue();
    });
    page = await context.newPage();
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => consoleErrors.push(e.message));
    page.on("dialog", (d) => void d.accept());
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    proc?.kill();
    await proc?.exited;
    await first[Symbol.asyncDispose]();
    await second[Symbol.asyncDispose]();
    rmSync(work, { recursive: true, force: true });
  });

  test("the page and its assets load without a key and hold no configuration", async () => {
    const html = await (await fetch(`${url}/ui`)).text();
    const assets = [...html.matchAll(/(?:src|href)="(\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(3);
    for (const text of [html, ...(await Promise.all(assets.map(async (a) => (await fetch(`${url}${a}`)).text())))]) {
      for (const secret of ["first-model", "second-model", first.url, "sk-first-backend", KEY]) expect(text).not.toContain(secret);
    }
    await page.goto(`${url}/ui`);
    await page.waitForSelector("#sign-in:not([hidden])", { timeout: 10_000 });
    expect(await page.isHidden("#board")).toBe(true);
  });

  test("a wrong key is refused and shows no data", async () => {
    expect(consoleErrors).toEqual([]);
    await page.fill("#key", "sk-not-the-key");
    await page.press("#key", "Enter");
    await page.waitForFunction(`document.getElementById("sign-in-error").textContent.includes("refused")`, undefined, { timeout: 10_000 });
    // The browser itself reports the refused request; the page makes exactly that one.
    expect(consoleErrors).toEqual(["Failed to load resource: the server responded with a status of 401 (Unauthorized)"]);
    consoleErrors.length = 0;
    expect(await page.isHidden("#board")).toBe(true);
    expect(await page.evaluate("sessionStorage.length")).toBe(0);
  });

  test("the right key shows the routes in plan order, and the key is kept only in sessionStorage", async () => {
    await page.fill("#key", KEY);
    await page.click("#sign-in-form button[type=submit]");
    await page.waitForSelector("#board:not([hidden])", { timeout: 10_000 });
    const found = page.locator('#routes table[data-alias="chat"] tr[data-backend]');
    const rows: string[] = [];
    for (let i = 0; i < (await found.count()); i++) rows.push(`${await found.nth(i).getAttribute("data-backend")}/${await found.nth(i).getAttribute("data-model")}`);
    expect(rows).toEqual(["first/first-model", "second/second-model"]);
    expect(await page.evaluate("document.cookie")).toBe("");
    expect(await page.evaluate(`sessionStorage.getItem("llm-proxy.key")`)).toBe(KEY);
    expect(page.url()).not.toContain(KEY);
  });

  test("a failing route shows cooling with a countdown within 3 s; the Clear button makes it ok and the next request goes there", async () => {
    failing = true;
    const res = await ask();
    expect(res.status).toBe(200);
    expect(((await res.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe("from second");
    const row = 'tr[data-backend="first"]';
    await page.waitForSelector(`${row} [data-state="cooling"]`, { timeout: 3000 });
    const countdown = async () => Number(await page.getAttribute(`${row} .countdown`, "data-seconds"));
    const before = await countdown();
    expect(before).toBeGreaterThan(100);
    await waitFor(async () => (await countdown()) < before, "the countdown to go down", 5000);
    expect(await page.textContent(`${row} td.message`)).toContain("500");

    failing = false;
    const served = first.received.length;
    // Reached from the keyboard: focus the button and press Enter.
    await page.focus(`${row} button`);
    await page.keyboard.press("Enter");
    await page.waitForSelector(`${row} [data-state="ok"]`, { timeout: 5000 });
    const next = await ask();
    expect(((await next.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe("from first");
    expect(first.received.length).toBe(served + 1);
  });

  test("the charts draw non-empty series once traffic has been seen, and the last requests are listed", async () => {
    for (let i = 0; i < 5; i++) expect((await ask(`again ${i}`)).status).toBe(200);
    // A 5-second step closes, then the next tick carries it.
    await page.waitForFunction(`Number(document.querySelector('[data-series="alias:chat"]')?.dataset.points ?? 0) > 0`, undefined, { timeout: 15_000 });
    expect(Number(await page.getAttribute('[data-series="route:1"]', "data-points"))).toBeGreaterThan(0);
    const canvases = await page.locator('[data-series="alias:chat"] canvas').count();
    expect(canvases).toBe(2);
    await page.waitForFunction(`document.querySelectorAll("#requests tr[data-status]").length >= 7`, undefined, { timeout: 5000 });
    await page.selectOption("#filter-status", "5");
    expect(await page.locator("#requests tr[data-status]").count()).toBe(0);
    await page.selectOption("#filter-status", "2");
    expect(await page.locator("#requests tr[data-status]").count()).toBeGreaterThanOrEqual(7);
  });

  test("usage shows today's spend per key and per alias", async () => {
    await page.reload();
    await page.waitForSelector("#board:not([hidden])", { timeout: 10_000 });
    await page.waitForFunction(`(document.getElementById("spend")?.textContent ?? "").includes("(proxy key)")`, undefined, { timeout: 10_000 });
    expect(await page.textContent("#spend")).toContain("chat");
  });

  test("light and dark screenshots, readable at a phone's width", async () => {
    mkdirSync(SHOTS, { recursive: true });
    // A pair cooling down, as the pictures in docs/ show it.
    failing = true;
    expect((await ask("for the picture")).status).toBe(200);
    await page.waitForSelector('tr[data-backend="first"] [data-state="cooling"]', { timeout: 5000 });
    await page.emulateMedia({ colorScheme: "light" });
    await page.screenshot({ path: join(SHOTS, "status-page-light.png"), fullPage: true });
    await page.emulateMedia({ colorScheme: "dark" });
    const background = await page.evaluate("getComputedStyle(document.body).backgroundColor");
    expect(background).not.toBe("rgb(246, 247, 249)");
    await page.screenshot({ path: join(SHOTS, "status-page-dark.png"), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.emulateMedia({ colorScheme: "light" });
    // The charts follow the new width through a ResizeObserver, a frame or so after the viewport changed: wait for it (bounded), then check.
    await page.waitForFunction("document.documentElement.scrollWidth <= 391", undefined, { timeout: 5000 }).catch(() => undefined);
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(391);
    await page.screenshot({ path: join(SHOTS, "status-page-phone.png"), fullPage: false });
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  test("nothing left 127.0.0.1 and the console has no errors", () => {
    expect(requested.length).toBeGreaterThan(3);
    expect(offHost).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });
});
