// api/answer-schemas.ts — the SPEC §2 error body as TypeBox schemas, for the routes' `response`
// maps: each route lists the refusals it gives itself, grouped by status from the one error table
// (core/errors.ts), and a `default` for what any route may answer before it runs (400 without Host,
// 503 `draining`, 408, 413, 417, 431; api/http-server.ts). The schemas describe answers; the node
// renders them with JSON.stringify as before (api/http-server.ts), so a schema drops no detail.

import { Type, type TSchema } from "@sinclair/typebox";
import { ERROR_CODES, ERROR_TABLE, type ErrorCode } from "../core/errors.js";

/** `{"error": CODE, "message": TEXT, ...details}` with one of `codes`. */
export function errorBodySchema(codes: readonly ErrorCode[], description: string): TSchema {
  return Type.Object(
    {
      error: Type.Union(codes.map((code) => Type.Literal(code))),
      message: Type.String(),
    },
    // Details (`required`, `alive`, `reason`, `bytesMax`, …) ride beside the two fields.
    { additionalProperties: true, description },
  );
}

/** The refusals a route gives itself, one response per status, each naming its codes' meanings. */
export function errorResponses(...codes: readonly ErrorCode[]): Record<string, TSchema> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = ERROR_TABLE[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<string, TSchema> = {};
  for (const [status, sharing] of byStatus) {
    const description = sharing
      .map((code) => `\`${code}\`: ${ERROR_TABLE[code].meaning}`)
      .join("; ");
    responses[String(status)] = errorBodySchema(sharing, description);
  }
  return responses;
}

/** What any route may answer besides its own: every code of the table. */
export const DEFAULT_ERROR_RESPONSE = errorBodySchema(
  ERROR_CODES,
  "Any other refusal, in the same error body: before a route runs the server answers 400 " +
    "`bad_request` (no Host), 503 `unavailable` with reason `draining` (shutting down), 408, 413, " +
    "417 or 431; a bug is 500 `internal`.",
);

/**
 * An answer that is not JSON (a value, Prometheus text): its media types, for the document. The
 * node never serializes these; the route sends the bytes or the text itself.
 */
export interface MediaAnswer {
  readonly description: string;
  readonly content: Readonly<Record<string, { readonly schema: TSchema }>>;
  /** Response headers, by name, as fastify's response schemas (and @fastify/swagger) take them. */
  readonly headers?: Readonly<Record<string, TSchema>>;
}

/** A route's `response` map: its own answers and refusals, and the default error body. */
export function answers(
  own: Readonly<Record<string, TSchema | MediaAnswer>>,
  ...codes: readonly ErrorCode[]
): Record<string, TSchema | MediaAnswer> {
  return { ...own, ...errorResponses(...codes), default: DEFAULT_ERROR_RESPONSE };
}
