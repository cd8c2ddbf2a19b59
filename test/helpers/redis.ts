import type { Subprocess } from "bun";
import { optionalTool } from "./tools.ts";

/** Whether redis-server is installed; .ci/run installs it, and under CI=true its absence fails the tests. */
export const redisServerPath = Bun.which("redis-server");
export const redisTool = optionalTool("redis-server", redisServerPath !== null, "apt-get install redis-server", "cooldowns and key limits shared between instances through Redis");

export async function freePort(): Promise<number> {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = server.port!;
  await server.stop(true);
  return port;
}

/**
 * A redis-server of the test's own on a free loopback port, without persistence,
 * that the test can stop and start again on the same port.
 */
export class TestRedis implements AsyncDisposable {
  private proc: Subprocess | undefined;
  private constructor(readonly port: number) {}

  static async start(): Promise<TestRedis> {
    if (!redisServerPath) throw new Error("redis-server is not installed (Debian: apt-get install redis-server)");
    const redis = new TestRedis(await freePort());
    await redis.resume();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts (again) on the same port, and waits until it answers. */
  async resume(): Promise<void> {
    this.proc = Bun.spawn([redisServerPath!, "--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdout: "pipe", stderr: "pipe" });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const ok = await new Promise<boolean>((resolve) => {
        Bun.connect({
          hostname: "127.0.0.1",
          port: this.port,
          socket: {
            open(socket) {
              socket.write("PING\r\n");
            },
            data(socket, data) {
              socket.end();
              resolve(data.toString().startsWith("+PONG"));
            },
            connectError() {
              resolve(false);
            },
            error() {
              resolve(false);
            },
          },
        }).catch(() => resolve(false));
      });
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${this.port}`);
      await Bun.sleep(20);
    }
  }

  async pause(): Promise<void> {
    this.proc?.kill();
    await this.proc?.exited;
    this.proc = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.pause();
  }
}
