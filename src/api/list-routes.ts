// api/list-routes.ts — `GET /buckets/:bucket/keys?limit=&after=&r=`: one page of a bucket's live
// keys (issue 17 §4), streamed as NDJSON so a page never sits whole in this node's memory.
//
// The answer is `application/x-ndjson`: one line `{"key": K}` per key, in token order (a stable
// order: the order the keys are stored in, ranges taken from token 0 up), then one last line,
// `{"next": TOKEN}` when more may follow (pass it back as `after`) or `{"done": true}`. The keys
// come from replication/key-lister.ts, which reads every range from `r` replicas (the bucket's
// default read level when absent) and lists a key once however many replicas hold it. Everything
// a request can get wrong is refused before the first line with the SPEC §2 JSON error body: a bad
// bucket name (`bad_bucket`), a limit that is not an integer from 1 to LIST_ROUTE_LIMITS.limitMax
// or a token that is not this bucket's (`bad_request`), a bad `r` (`bad_consistency`), and too
// few live replicas for some range (503 `unavailable`). A failure after the first line (a replica
// lost mid-page with none to stand in) ends the stream with one error line in the same body shape,
// `{"error": CODE, "message": TEXT}`, and no `next`/`done` line: the client retries from its last
// token.

import { Readable } from "node:stream";
import type { FastifyPluginAsync } from "fastify";
import { Type } from "@sinclair/typebox";
import { GrapevineError } from "../core/errors.js";
import type { ConsistencyLevel } from "../replication/consistency.js";
import type { KeyLister } from "../replication/key-lister.js";
import { bucketNameProblem } from "../storage/bucket-keys.js";
import { answers } from "./answer-schemas.js";
import { levelFromQuery } from "./kv-routes.js";
import { decodeListToken, encodeListToken, positionAfterKey } from "./list-token.js";

export const LIST_ROUTE_LIMITS = {
  /** Keys per page when `limit` is absent. */
  limitDefault: 1_000,
  /** The largest page a client may ask for (`limit`). */
  limitMax: 10_000,
} as const;

export const NDJSON_CONTENT_TYPE = "application/x-ndjson";

/** What the route counts (api/metrics.ts shows them). */
export class ListStats {
  listings = 0;
  keysListed = 0;
  failures = 0;
  /** Replica pages this node's listings read (its own included) and the records they visited. */
  replicaPages = 0;
  recordsVisited = 0;
}

export interface ListRoutesOptions {
  readonly lister: Pick<KeyLister, "checkAvailable" | "keys">;
  readonly replicationFactor: number;
  readonly readConsistency: ConsistencyLevel;
  readonly buckets?: { props(bucket: string): { readonly r: ConsistencyLevel } };
  readonly stats: ListStats;
}

const ListQuery = Type.Object({
  limit: Type.Optional(Type.String({ description: "Keys in this page, 1 to 10000 (1000)" })),
  after: Type.Optional(Type.String({ description: "The `next` token of the previous page" })),
  r: Type.Optional(Type.String({ description: "Replicas read per range (the bucket's r)" })),
});

const NDJSON_ANSWER = {
  description: 'NDJSON: {"key": K} per key in token order, then {"next": TOKEN} or {"done": true}',
  content: { [NDJSON_CONTENT_TYPE]: { schema: Type.String() } },
};

/** `limit` as a page size; bad_request for anything but an integer from 1 to limitMax. */
export function limitFromQuery(value: string | undefined): number {
  if (value === undefined) return LIST_ROUTE_LIMITS.limitDefault;
  const limit = /^[0-9]{1,6}$/.test(value) ? Number(value) : Number.NaN;
  if (!(limit >= 1 && limit <= LIST_ROUTE_LIMITS.limitMax))
    throw new GrapevineError(
      "bad_request",
      `limit must be an integer from 1 to ${LIST_ROUTE_LIMITS.limitMax}`,
    );
  return limit;
}

interface ListPlan {
  readonly bucket: string;
  readonly afterKey: string | null;
  readonly limit: number;
  readonly level: ConsistencyLevel;
}

async function* ndjsonLines(options: ListRoutesOptions, plan: ListPlan): AsyncGenerator<string> {
  const { bucket, afterKey, limit, level } = plan;
  const after = afterKey === null ? null : positionAfterKey(bucket, afterKey);
  let count = 0;
  let last: string | null = null;
  try {
    for await (const merged of options.lister.keys({ bucket, after, level })) {
      yield `${JSON.stringify({ key: merged.key })}\n`;
      options.stats.keysListed += 1;
      count += 1;
      last = merged.key;
      if (count >= limit) break;
    }
  } catch (error) {
    options.stats.failures += 1;
    const refusal =
      error instanceof GrapevineError
        ? error
        : new GrapevineError("unavailable", `listing failed: ${(error as Error).message}`);
    yield `${JSON.stringify({ error: refusal.code, message: refusal.message, ...refusal.details })}\n`;
    return;
  }
  const end =
    count >= limit && last !== null ? { next: encodeListToken(bucket, last) } : { done: true };
  yield `${JSON.stringify(end)}\n`;
}

export const listRoutes: FastifyPluginAsync<ListRoutesOptions> = async (app, options) => {
  app.get(
    "/buckets/:bucket/keys",
    {
      schemaErrorFormatter: (errors) =>
        new GrapevineError("bad_request", errors.map((e) => e.message).join("; ")),
      schema: {
        summary: "A page of the bucket's live keys, as NDJSON",
        tags: ["buckets"],
        params: Type.Object({ bucket: Type.String() }),
        querystring: ListQuery,
        response: answers(
          { 200: NDJSON_ANSWER },
          "bad_bucket",
          "bad_request",
          "bad_consistency",
          "unavailable",
        ),
      },
    },
    async (request, reply) => {
      const { bucket } = request.params as { bucket: string };
      const problem = bucketNameProblem(bucket);
      if (problem !== null) throw new GrapevineError("bad_bucket", problem);
      const query = request.query as { limit?: string; after?: string; r?: string };
      const limit = limitFromQuery(query.limit);
      const afterKey = query.after === undefined ? null : decodeListToken(bucket, query.after);
      const fallback = options.buckets?.props(bucket).r ?? options.readConsistency;
      const level = levelFromQuery(query.r, fallback, options.replicationFactor);
      options.lister.checkAvailable(level);
      options.stats.listings += 1;
      const lines = ndjsonLines(options, { bucket, afterKey, limit, level });
      return reply.type(NDJSON_CONTENT_TYPE).send(Readable.from(lines));
    },
  );
};
