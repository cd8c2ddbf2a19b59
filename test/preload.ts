// Bun's fetch obeys proxy variables from the environment; tests talk to loopback only.
for (const name of ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy", "no_proxy"]) {
  delete process.env[name];
}

// Tests that start servers and subprocesses get room on a loaded 2-core machine;
// each still waits on conditions, never on the clock.
import { setDefaultTimeout } from "bun:test";
setDefaultTimeout(30_000);

// At the end of the run: which optional tools were missing, and what they would have checked.
// (An afterAll in the preload runs once, after every test file.)
import { afterAll } from "bun:test";
import { missingTools } from "./helpers/tools.ts";
afterAll(() => {
  const text = missingTools();
  if (text) console.warn(text);
});
