import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildImage, findRuntime, freshExecutable, hostArch, imageSize, USER_ID } from "../../scripts/image.ts";
import { chatChunk, chatCompletion, FakeProvider, ScriptedStream, waitFor } from "../helpers/fake-provider.ts";
import { freePort } from "../helpers/redis.ts";
import { optionalTool } from "../helpers/tools.ts";

/**
 * The image as a user runs it: built from this machine's executable, started with
 * the config folder mounted read-only, in front of a fake provider on the host
 * (`--network host`: the container reaches 127.0.0.1 and is reached there).
 */
const { runtime, tried } = findRuntime();
const maybe = optionalTool(
  "podman or docker",
  runtime !== undefined && runtime !== null,
  `apt-get install podman runc, and the containers.conf set-up in .ci/run (here: ${tried.join("; ")})`,
  "the container image builds, serves, reloads and stops cleanly",
).describe;

const KEY = "sk-container-test-key-0000";
const BACKEND_KEY = "sk-fake-backend-key-0000";
const GRACE_SECONDS = 10;
/** `stop --time`: how long podman or docker waits before SIGKILL, far above the grace period; a stop that needed it would show as exit 137. */
const KILL_AFTER_SECONDS = 60;

maybe("the container image", () => {
  const rt = runtime?.name ?? "podman";
  const tag = `localhost/llm-proxy:test-${process.pid}`;
  const name = `llm-proxy-test-${process.pid}`;
  // Made in beforeAll: a skipped describe still runs its body.
  let dir = "";
  let configPath = "";
  let provider: FakeProvider | undefined;
  let address = "";
  let stream: ScriptedStream | undefined;
  let built = false;
  let started = false;

  const cli = (args: string[]) => {
    const result = Bun.spawnSync([rt, ...args], { stdout: "pipe", stderr: "pipe" });
    return { ok: result.success, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
  };
  const logs = () => {
    const { stdout, stderr } = cli(["logs", name]);
    return stdout + stderr;
  };

  let port = 0;
  const config = (aliases: string[]) => `listen: "127.0.0.1:${port}"
proxy_api_key: "${KEY}"
shutdown_grace_seconds: ${GRACE_SECONDS}
backends:
  - name: fake
    url: "${provider!.url}/v1"
    api_key: "${BACKEND_KEY}"
models:
${aliases.map((alias) => `  ${alias}:\n    routes:\n      - { backend: fake, model: real-${alias} }\n`).join("")}logging:
  general_file: "./logs/proxy.log"
`;

  const chat = (model: string, stream = false) =>
    fetch(`${address}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model, stream, messages: [{ role: "user", content: "hi" }] }),
    });

  beforeAll(async () => {
    if (!runtime) throw new Error(`no container runtime works here (${tried.join("; ")}); under CI=true .ci/run installs podman and runc`);
    const arch = hostArch();
    if (!arch) throw new Error(`no linux image for this machine's architecture (${process.arch})`);
    const exe = await freshExecutable(arch);
    dir = mkdtempSync(join(tmpdir(), "llm-proxy-container-"));
    configPath = join(dir, "config.yaml");
    provider = new FakeProvider((req) => {
      const body = JSON.parse(req.text) as { stream?: boolean; model: string };
      if (!body.stream) return Response.json(chatCompletion(`answer from ${body.model}`, body.model));
      stream = new ScriptedStream();
      stream.send(chatChunk("one"));
      return stream.response();
    });

    const buildStarted = performance.now();
    buildImage({ arch, runtime: rt, exe, tags: [tag], quiet: true });
    built = true;
    const buildSeconds = (performance.now() - buildStarted) / 1000;

    port = await freePort();
    address = `http://127.0.0.1:${port}`;
    // The container's user (10001) reads the mount: the folder and file must be readable by others.
    chmodSync(dir, 0o755);
    writeFileSync(configPath, config(["m"]), { mode: 0o644 });

    const runStarted = performance.now();
    const run = cli(["run", "-d", "--name", name, "--network", "host", "-v", `${dir}:/etc/llm-proxy:ro`, tag]);
    if (!run.ok) throw new Error(`${rt} run failed: ${run.stderr}(on a VM with cgroups v1, podman needs runc and default_ulimits = [] in containers.conf: see .ci/run)`);
    started = true;
    const healthy = async () => {
      try {
        return (await fetch(`${address}/health`)).status === 200;
      } catch {
        // Not listening yet.
        return false;
      }
    };
    await waitFor(healthy, "/health from the container", 60_000).catch((error: Error) => {
      throw new Error(`${error.message}; its log:\n${logs()}`, { cause: error });
    });
    const firstOk = performance.now() - runStarted;
    console.log(`container (${rt} ${runtime.version}, linux/${arch}): image ${(imageSize(rt, tag) / 1e6).toFixed(1)} MB, built in ${buildSeconds.toFixed(1)} s; \`${rt} run\` to the first 200 on /health: ${firstOk.toFixed(0)} ms`);
  }, 180_000);

  afterAll(async () => {
    if (started) cli(["rm", "-f", name]);
    if (built) cli(["rmi", "-f", tag]);
    await provider?.[Symbol.asyncDispose]();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("answers /health and runs as the user llm-proxy with BUN_CONFIG_MAX_HTTP_REQUESTS set", async () => {
    const res = await fetch(`${address}/health`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("ok");
    const inspect = cli(["inspect", "--format", "{{.Config.User}} {{range .Config.Env}}{{.}} {{end}}", name]);
    expect(inspect.stdout).toStartWith(`${USER_ID}:${USER_ID} `);
    expect(inspect.stdout).toContain("BUN_CONFIG_MAX_HTTP_REQUESTS=65535");
    expect(logs()).toContain("config: /etc/llm-proxy/config.yaml");
  });

  test("proxies a chat completion to the provider on the host with the backend's key", async () => {
    const res = await chat("m");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { choices: { message: { content: string } }[] };
    expect(body.choices[0]!.message.content).toBe("answer from real-m");
    const seen = provider!.received.at(-1)!;
    expect(seen.url.pathname).toBe("/v1/chat/completions");
    expect(seen.headers.get("authorization")).toBe(`Bearer ${BACKEND_KEY}`);
    expect(JSON.parse(seen.text).model).toBe("real-m");
  });

  const servedOnce = async (alias: string) => (await chat(alias)).status === 200;

  test("serves a new alias once the mounted file is rewritten in place", async () => {
    expect((await chat("m2")).status).toBe(404);
    writeFileSync(configPath, config(["m", "m2"]));
    await waitFor(() => servedOnce("m2"), "the rewritten config to be served", 30_000);
    expect(logs()).toContain("config reloaded");
  });

  test("serves a new alias once an editor replaces the file by rename", async () => {
    writeFileSync(join(dir, ".config.yaml.tmp"), config(["m", "m2", "m3"]), { mode: 0o644 });
    renameSync(join(dir, ".config.yaml.tmp"), configPath);
    await waitFor(() => servedOnce("m3"), "the replaced config to be served", 30_000);
  });

  test("on SIGTERM finishes the stream in flight, stops within the grace period and exits 0", async () => {
    const res = await chat("m", true);
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toContain('"content":"one"');

    const stopStarted = performance.now();
    const stop = Bun.spawn([rt, "stop", "--time", String(KILL_AFTER_SECONDS), name], { stdout: "pipe", stderr: "pipe" });
    await waitFor(() => logs().includes("SIGTERM received"), "the container to log SIGTERM", 30_000);
    stream!.send(chatChunk("two"));
    stream!.send("data: [DONE]\n\n");
    stream!.end();
    let rest = "";
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += new TextDecoder().decode(chunk.value);
    expect(rest).toContain('"content":"two"');
    expect(rest.endsWith("data: [DONE]\n\n")).toBe(true);

    expect(await stop.exited).toBe(0);
    const stopSeconds = (performance.now() - stopStarted) / 1000;
    expect(stopSeconds).toBeLessThan(GRACE_SECONDS);
    expect(cli(["inspect", "--format", "{{.State.ExitCode}}", name]).stdout.trim()).toBe("0");
    console.log(`container: \`${rt} stop\` returned after ${stopSeconds.toFixed(2)} s with a stream in flight`);

    // The log file was written in the working directory: it is writable by the user.
    const copied = join(dir, "copied-logs");
    const cp = cli(["cp", `${name}:/var/lib/llm-proxy/logs`, copied]);
    expect(cp.stderr).toBe("");
    const text = readdirSync(copied).map((f) => readFileSync(join(copied, f), "utf8")).join("");
    expect(text).toContain("waiting up to 10 s for 1 request in flight");
    expect(text).toContain("[INFO] stopped");
  }, 60_000);
});
