// client/key-pages.ts — the pages of a bucket's key listing as the client library reads them
// (`GET /buckets/:bucket/keys`, README "Listing keys"): the request path of one page, and the
// NDJSON answer parsed into its keys and the token of the next page. A page is read whole (at most
// KEY_PAGE_LIMITS.pageKeysMax keys), so what the client holds is bounded by one page however large
// the bucket. Pure.

import { GrapevineError } from "../core/errors.js";
import { parseErrorBody } from "./errors.js";

export const KEY_PAGE_LIMITS = {
  /** Keys per page the library asks for by default. */
  pageKeysDefault: 1_000,
  /** The most the node gives in one page (its `limit` bound). */
  pageKeysMax: 10_000,
} as const;

/** One page: its keys, and the token of the next page (null: the listing is complete). */
export interface KeyPage {
  readonly keys: string[];
  readonly next: string | null;
}

export interface KeyPageRequest {
  readonly pageKeys: number;
  readonly after: string | null;
  readonly r: string | number | undefined;
}

/** The path and query of one page. */
export function keyPagePath(bucket: string, request: KeyPageRequest): string {
  const query = new URLSearchParams({ limit: String(request.pageKeys) });
  if (request.after !== null) query.set("after", request.after);
  if (request.r !== undefined) query.set("r", String(request.r));
  return `/buckets/${encodeURIComponent(bucket)}/keys?${query.toString()}`;
}

function malformed(why: string): GrapevineError {
  return new GrapevineError("internal", `the node sent a malformed key page: ${why}`);
}

/**
 * The keys and next token of an NDJSON page; an error line (a failure after the page began)
 * throws its SPEC §2 error, and a page without its closing line is malformed.
 */
export function parseKeyPage(body: string): KeyPage {
  const keys: string[] = [];
  for (const line of body.split("\n")) {
    if (line === "") continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw malformed("a line is not JSON");
    }
    if (typeof parsed !== "object" || parsed === null) throw malformed("a line is not an object");
    const fields = parsed as Record<string, unknown>;
    if (typeof fields.key === "string") keys.push(fields.key);
    else if (typeof fields.next === "string") return { keys, next: fields.next };
    else if (fields.done === true) return { keys, next: null };
    else if (fields.error !== undefined) {
      const { code, message, details } = parseErrorBody(503, line);
      throw new GrapevineError(code, message, details);
    } else throw malformed("a line is neither a key nor the end");
  }
  throw malformed("the page ended before its last line");
}
