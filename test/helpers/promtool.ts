import { optionalTool } from "./tools.ts";

const PATH = Bun.which("promtool");

/** promtool (Debian package `prometheus`) is Prometheus' own parser and linter. */
export const promtoolTool = optionalTool("promtool", PATH !== null, "apt-get install prometheus", "the /metrics text passes Prometheus' own parser and linter");

/** `promtool check metrics` on the text: its exit code and what it said. */
export async function promtool(text: string): Promise<{ code: number; output: string }> {
  if (PATH === null) throw new Error("promtool is missing: apt-get install prometheus (.ci/run installs it)");
  const proc = Bun.spawn([PATH, "check", "metrics"], { stdin: new Blob([text]), stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, output: stdout + stderr };
}
