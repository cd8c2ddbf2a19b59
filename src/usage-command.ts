import { parseConfig, readConfigText } from "./config/load.ts";
import { ConfigError } from "./config/problems.ts";
import { usageReport } from "./ops/ledger-query.ts";

export const USAGE_HELP = `Usage: llm-proxy usage [-config FILE] [--since 7d] [--to TIME] [--by key|alias|backend|model|day] [--key NAME]

Prints the usage ledger (usage.database of the config) as a table: requests, tokens
and cost. --since and --to take ISO 8601 (2026-12-01, 2026-12-01T10:00:00Z) or a span
back from now (30m, 24h, 7d, 2w); the default is this UTC month so far.
`;

/** `llm-proxy usage …`: the ledger's totals as a table. Returns the exit code. */
export async function usageCommand(argv: readonly string[]): Promise<number> {
  let config = "config.yaml";
  const options: { since?: string; to?: string; by?: string; key?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    if (flag === "--help" || flag === "-h" || flag === "-help") {
      process.stdout.write(USAGE_HELP);
      return 0;
    }
    const value = inline ?? argv[++i];
    if (value === undefined || value === "") {
      process.stderr.write(`llm-proxy usage: ${flag} needs a value; see llm-proxy usage --help\n`);
      return 2;
    }
    if (flag === "-config" || flag === "--config" || flag === "-c") config = value;
    else if (flag === "--since" || flag === "--from") options.since = value;
    else if (flag === "--to") options.to = value;
    else if (flag === "--by") options.by = value;
    else if (flag === "--key") options.key = value;
    else {
      process.stderr.write(`llm-proxy usage: unknown argument ${JSON.stringify(arg)}; see llm-proxy usage --help\n`);
      return 2;
    }
  }
  const loaded = parseConfig(await readConfigText(config), config);
  if (!loaded.config) throw new ConfigError(loaded.problems);
  if (!loaded.config.usage.enabled) {
    process.stderr.write(`llm-proxy usage: ${config} turns the ledger off (usage.enabled: false)\n`);
    return 1;
  }
  const report = await usageReport(loaded.config.usage.database, options, Date.now(), (level, message) => process.stderr.write(`${level}: ${message}\n`));
  (report.ok ? process.stdout : process.stderr).write(report.text.endsWith("\n") ? report.text : `${report.text}\n`);
  return report.ok ? 0 : 1;
}
