import { parseConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/types.ts";
import { Logger, type LogSink } from "../../src/log/logger.ts";
import { startServer, type ProxyServer, type ServerOptions } from "../../src/server/server.ts";

/** Captures log lines instead of printing them. */
export class CapturedLog implements LogSink {
  readonly lines: string[] = [];
  write(line: string): void {
    this.lines.push(line);
  }
  get text(): string {
    return this.lines.join("");
  }
}

/** Validates YAML with the real loader; throws with every problem if it has errors. */
export function configFrom(yaml: string, env: Record<string, string | undefined> = {}): Config {
  const { config, problems } = parseConfig(yaml, "test.yaml", env);
  if (!config) throw new Error(`test config has errors:\n${problems.map(String).join("\n")}`);
  return config;
}

export interface TestProxy extends AsyncDisposable {
  readonly url: string;
  readonly proxy: ProxyServer;
  readonly log: CapturedLog;
}

/** Starts the proxy on 127.0.0.1, port 0, with a config given as YAML. */
export function startProxy(yaml: string, env: Record<string, string | undefined> = {}, options: Omit<ServerOptions, "hostname" | "port"> = {}): TestProxy {
  const config = configFrom(yaml, env);
  const sink = new CapturedLog();
  const logger = new Logger(sink);
  logger.configure({ ...config.logging, generalFile: "" }, config.secrets);
  const proxy = startServer(config, logger, { ...options, hostname: "127.0.0.1", port: 0 });
  return {
    url: proxy.url,
    proxy,
    log: sink,
    async [Symbol.asyncDispose]() {
      await proxy.stop(true);
    },
  };
}
