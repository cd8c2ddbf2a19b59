import type { Config } from "../config/types.ts";

/**
 * GET /v1/models: the enabled aliases, in OpenAI's list shape, or Anthropic's when the
 * client sends anthropic-version. https://docs.anthropic.com/en/api/models-list
 */
export function modelList(config: Config, headers: Headers, allows?: (alias: string) => boolean): Response {
  const ids = [...config.aliases.keys()].filter((id) => allows === undefined || allows(id));
  if (headers.has("anthropic-version")) {
    const createdAt = config.loadedAt.toISOString();
    return Response.json({
      data: ids.map((id) => ({ type: "model", id, display_name: id, created_at: createdAt })),
      has_more: false,
      first_id: ids[0] ?? null,
      last_id: ids.at(-1) ?? null,
    });
  }
  const created = Math.floor(config.loadedAt.getTime() / 1000);
  return Response.json({ object: "list", data: ids.map((id) => ({ id, object: "model", created, owned_by: "llm-proxy" })) });
}
