import pkg from "../../package.json" with { type: "json" };

/** Set at build time by scripts/build.ts; absent when run from source. */
declare const LLM_PROXY_VERSION: string | undefined;
declare const LLM_PROXY_COMMIT: string | undefined;

export const VERSION = typeof LLM_PROXY_VERSION === "string" ? LLM_PROXY_VERSION : pkg.version;
export const COMMIT = typeof LLM_PROXY_COMMIT === "string" ? LLM_PROXY_COMMIT : "source";
