import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { layerViolations } from "./helpers/layers.ts";

describe("the layers of src/", () => {
  test("no import runs upward, and no pure module imports one that does I/O", () => {
    expect(layerViolations(join(import.meta.dir, "..", "src"))).toEqual([]);
  });

  test("the check finds a deliberate upward import and a pure module doing I/O in a small tree", () => {
    expect(layerViolations(join(import.meta.dir, "fixtures", "layers", "src"))).toEqual([
      { file: "config/types.ts", import: "../server/routes.ts", why: "imports upward, from config into server" },
      { file: "proxy/router.ts", import: "node:fs", why: "a pure module imports a runtime module" },
    ]);
  });
});
