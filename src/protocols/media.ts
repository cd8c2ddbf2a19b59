/**
 * Images and documents between OpenAI content parts and Anthropic sources.
 * OpenAI: `{type: "image_url", image_url: {url}}` where `url` is an http(s) URL or
 * a `data:<media type>;base64,<data>` URL. Anthropic: `{type: "image", source:
 * {type: "base64", media_type, data}}` or `source: {type: "url", url}`.
 * https://docs.anthropic.com/en/docs/build-with-claude/vision
 * https://platform.openai.com/docs/guides/images-vision
 */

import { isObject, str } from "./json.ts";
import type { JsonObject } from "./types.ts";

const DATA_URL = /^data:([^;,]+)((?:;[^;,]*)*?);base64,(.*)$/s;

export interface Base64Data {
  readonly mediaType: string;
  readonly data: string;
}

/** The media type and data of a base64 data URL, or undefined for any other URL. */
export function parseDataUrl(url: string): Base64Data | undefined {
  const match = DATA_URL.exec(url);
  if (!match || match[1] === undefined || match[3] === undefined) return undefined;
  return { mediaType: match[1].toLowerCase(), data: match[3] };
}

export function dataUrl(mediaType: string, data: string): string {
  return `data:${mediaType};base64,${data}`;
}

/** An Anthropic `source` for an OpenAI image URL (data URL or web URL). */
export function anthropicSource(url: string): JsonObject {
  const parsed = parseDataUrl(url);
  return parsed ? { type: "base64", media_type: parsed.mediaType, data: parsed.data } : { type: "url", url };
}

/** The URL an OpenAI client or provider reads for an Anthropic `source`, or undefined for kinds without one (`file`, `text`). */
export function urlOfSource(source: unknown): string | undefined {
  if (!isObject(source)) return undefined;
  if (source.type === "base64") {
    const mediaType = str(source, "media_type");
    const data = str(source, "data");
    return mediaType && data !== undefined ? dataUrl(mediaType, data) : undefined;
  }
  if (source.type === "url") return str(source, "url");
  return undefined;
}
