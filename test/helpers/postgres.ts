import { SQL, type Subprocess } from "bun";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./redis.ts";
import { optionalTool } from "./tools.ts";

/**
 * Debian keeps the server programs in /usr/lib/postgresql/<version>/bin, off PATH
 * (only the client wrappers are on it); look there after PATH, newest version first.
 */
function findBin(): string | undefined {
  const onPath = Bun.which("postgres");
  if (onPath && Bun.which("initdb")) return join(onPath, "..");
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, "bin", "postgres")) && existsSync(join(root, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], "bin");
}

/** Where postgres and initdb are; undefined when PostgreSQL is not installed (Debian: apt-get install postgresql). */
export const postgresBin = findBin();
// As root the server runs as the postgres user, through setpriv (util-linux).
const canRun = postgresBin !== undefined && (process.getuid?.() !== 0 || Bun.which("setpriv") !== null);
export const postgresTool = optionalTool("postgres", canRun, "apt-get install postgresql (and util-linux for setpriv)", "the usage ledger shared by instances in Postgres");

/** Postgres refuses to run as root: as root, run it as this user (Debian's package creates `postgres`). */
const RUN_AS = "postgres";

function idsOf(user: string): { uid: number; gid: number } | undefined {
  const uid = Bun.spawnSync(["id", "-u", user]);
  const gid = Bun.spawnSync(["id", "-g", user]);
  if (uid.exitCode !== 0 || gid.exitCode !== 0) return undefined;
  return { uid: Number(uid.stdout.toString().trim()), gid: Number(gid.stdout.toString().trim()) };
}

/**
 * A PostgreSQL server of the test's own: a fresh cluster in a temp dir (initdb),
 * listening on a free loopback port and a socket in that dir, trusting local
 * logins, with fsync off (a test's data need not survive a power cut). As root it
 * runs as the `postgres` user through `setpriv`, which execs the server in its place,
 * so the PID we hold is the postmaster's and stopping it by PID stops the server.
 * Stop and start again on the same port and data with pause/resume.
 */
export class TestPostgres implements AsyncDisposable {
  private proc: Subprocess | undefined;
  private output = "";

  private constructor(
    private readonly dir: string,
    private readonly prefix: string[],
    readonly port: number,
  ) {}

  static async start(): Promise<TestPostgres> {
    if (!postgresBin) throw new Error("postgres is not installed (Debian: apt-get install postgresql); the ledger's Postgres tests need initdb and postgres");
    const dir = mkdtempSync(join(tmpdir(), "llm-proxy-pg-"));
    let prefix: string[] = [];
    if (process.getuid?.() === 0) {
      const ids = idsOf(RUN_AS);
      if (!ids) throw new Error(`postgres cannot run as root and there is no "${RUN_AS}" user to run it as (Debian's postgresql package creates one)`);
      chownSync(dir, ids.uid, ids.gid);
      prefix = ["setpriv", `--reuid=${ids.uid}`, `--regid=${ids.gid}`, "--init-groups", "--"];
    }
    const pg = new TestPostgres(dir, prefix, await freePort());
    const init = Bun.spawnSync([...prefix, join(postgresBin, "initdb"), "-D", join(dir, "data"), "-U", "test", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"]);
    if (init.exitCode !== 0) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`initdb failed (exit ${init.exitCode}):\n${init.stderr.toString()}${init.stdout.toString()}`);
    }
    await pg.resume();
    return pg;
  }

  get url(): string {
    return `postgres://test@127.0.0.1:${this.port}/postgres`;
  }

  /** Starts (again) on the same port and data, and waits until it answers a query. */
  async resume(): Promise<void> {
    const args = ["-D", join(this.dir, "data"), "-p", String(this.port), "-k", this.dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off"];
    this.output = "";
    const proc = Bun.spawn([...this.prefix, join(postgresBin!, "postgres"), ...args], { stdout: "pipe", stderr: "pipe" });
    this.proc = proc;
    void this.collect(proc.stderr as ReadableStream<Uint8Array>);
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`postgres exited with ${proc.exitCode}:\n${this.output}`);
      const sql = new SQL({ url: this.url, max: 1, connectionTimeout: 1 });
      const ok = await sql`SELECT 1 AS one`.then(
        () => true,
        () => false,
      );
      await sql.close({ timeout: 0 });
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`postgres did not answer on port ${this.port}:\n${this.output}`);
      await Bun.sleep(50);
    }
  }

  private async collect(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of stream) this.output += decoder.decode(chunk);
  }

  /** Fast shutdown (SIGINT to the postmaster): open connections are closed, as when a server goes away. */
  async pause(): Promise<void> {
    this.proc?.kill("SIGINT");
    await this.proc?.exited;
    this.proc = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.pause();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
