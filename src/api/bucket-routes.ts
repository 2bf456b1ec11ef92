// api/bucket-routes.ts — bucket properties over HTTP (issue 17 §2): `GET /buckets` (every bucket
// with properties set), `GET /buckets/:bucket/props` and `PUT /buckets/:bucket/props` (a JSON
// object of the properties to change, null resetting one; api/bucket-props.ts). Both answer the
// bucket's properties in effect on this node, the ones stored, and the stored version (the HLC
// stamp and the node that set them), so an operator can see which change won. A change is made on
// this node and spread by gossip (cluster/metadata-gossip.ts); every node applies it within a few
// gossip rounds. The keys of a bucket are served by api/kv-routes.ts.

import type { FastifyPluginAsync } from "fastify";
import { Type } from "@sinclair/typebox";
import { GrapevineError } from "../core/errors.js";
import { bucketNameProblem } from "../storage/bucket-keys.js";
import { answers } from "./answer-schemas.js";
import { propsFaultMessage } from "./bucket-props-errors.js";
import type { BucketBook, BucketRecord } from "./bucket-book.js";
import {
  applyPatch,
  badProps,
  BUCKET_PROPS_LIMITS,
  BucketPropsPatchSchema,
  effectiveProps,
  patchOf,
  type BucketProps,
  type StoredBucketProps,
} from "./bucket-props.js";

export interface BucketRoutesOptions {
  readonly book: BucketBook;
}

export interface BucketBody {
  readonly bucket: string;
  readonly props: BucketProps;
  readonly stored: StoredBucketProps;
  readonly version: { readonly stampUs: number; readonly origin: string } | null;
}

const BucketParams = Type.Object({ bucket: Type.String() });
const Level = Type.Union([Type.String(), Type.Integer()]);
const BucketAnswer = Type.Object(
  {
    bucket: Type.String(),
    props: Type.Object({
      conflictResolution: Type.Literal("lww"),
      r: Level,
      w: Level,
      pr: Type.Union([Level, Type.Null()]),
      pw: Type.Union([Level, Type.Null()]),
      ttlSeconds: Type.Union([Type.Integer(), Type.Null()]),
      maxValueBytes: Type.Integer(),
    }),
    stored: Type.Object({}, { additionalProperties: true }),
    version: Type.Union([
      Type.Object({ stampUs: Type.Integer(), origin: Type.String() }),
      Type.Null(),
    ]),
  },
  { description: "The bucket's properties in effect on this node, those set, and their version" },
);

function checkedBucket(name: string): string {
  const problem = bucketNameProblem(name);
  if (problem !== null) throw new GrapevineError("bad_bucket", problem);
  return name;
}

function bodyOf(book: BucketBook, record: BucketRecord): BucketBody {
  const { bucket, stored, version } = record;
  return { bucket, props: effectiveProps(stored, book.defaults), stored, version };
}

export const bucketRoutes: FastifyPluginAsync<BucketRoutesOptions> = async (app, options) => {
  const { book } = options;

  app.get(
    "/buckets",
    {
      schema: {
        summary: "Every bucket with properties set",
        tags: ["buckets"],
        response: answers({ 200: Type.Object({ buckets: Type.Array(BucketAnswer) }) }),
      },
    },
    async () => ({ buckets: book.list().map((record) => bodyOf(book, record)) }),
  );

  app.get(
    "/buckets/:bucket/props",
    {
      schema: {
        summary: "A bucket's properties",
        tags: ["buckets"],
        params: BucketParams,
        response: answers({ 200: BucketAnswer }, "bad_bucket"),
      },
    },
    async (request) => {
      const bucket = checkedBucket((request.params as { bucket: string }).bucket);
      return bodyOf(book, book.record(bucket));
    },
  );

  app.put(
    "/buckets/:bucket/props",
    {
      bodyLimit: BUCKET_PROPS_LIMITS.bodyBytesMax,
      schemaErrorFormatter: (errors) => badProps(propsFaultMessage(errors)),
      schema: {
        summary: "Changes a bucket's properties; null resets one to the node's default",
        tags: ["buckets"],
        params: BucketParams,
        body: BucketPropsPatchSchema,
        response: answers({ 200: BucketAnswer }, "bad_bucket", "bad_props", "not_supported"),
      },
    },
    async (request) => {
      const bucket = checkedBucket((request.params as { bucket: string }).bucket);
      const patch = patchOf(request.body);
      const stored = applyPatch(book.record(bucket).stored, patch, book.defaults);
      return bodyOf(book, book.set(bucket, stored));
    },
  );
};
