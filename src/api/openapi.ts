// api/openapi.ts — the node's OpenAPI 3.1 document, served at `/openapi.json` and made by
// @fastify/swagger from the routes' own schemas (the TypeBox schemas fastify validates requests
// with), so the document describes what the routes check and answer, not what someone wrote about
// them. Registered before every route: @fastify/swagger learns the routes as they are added.
//
// Two things the routes' schemas cannot say as fastify reads them, and which this module adds to
// the document only:
//   - a body fastify must not read or check (a value is raw bytes of any type, api/kv-routes.ts):
//     the route's schema names it under DOCUMENTED_BODY, and the document shows it as the body;
//   - a body that may be absent (the admin routes' optional JSON options): OPTIONAL_BODY. The
//     document generator marks every body it knows as required.
// The node-to-node routes (net/) are hidden: they take msgpack from peers holding the cluster
// secret, and their messages are described by net/'s own TypeBox schemas, not for clients.

import fastifySwagger from "@fastify/swagger";
import { Type, type TSchema } from "@sinclair/typebox";
import type { FastifyInstance, FastifySchema } from "fastify";
import { answers } from "./answer-schemas.js";

export const OPENAPI_PATH = "/openapi.json";

/** The document's own version: the HTTP API's (SPEC §2–§3), not the package's. */
const API_DOCUMENT_VERSION = "1";

/** Route schema key: a request body in the document that fastify neither parses nor checks. */
export const DOCUMENTED_BODY = "x-documented-body";
/** Route schema key (an OpenAPI extension, copied onto the operation): the body may be absent. */
export const OPTIONAL_BODY = "x-optional-body";

export interface DocumentedBody {
  readonly description: string;
  readonly content: Readonly<Record<string, { readonly schema: TSchema }>>;
}

const TAGS = [
  { name: "kv", description: "The client API (SPEC §2): values by key" },
  { name: "cluster", description: "What this node sees of the cluster (SPEC §3)" },
  { name: "admin", description: "The operator's actions (SPEC §3)" },
  { name: "probes", description: "Liveness and readiness" },
  { name: "observability", description: "Metrics and this document" },
];

const OPENAPI_SCHEMA = {
  summary: "This document",
  tags: ["observability"],
  response: answers({
    200: Type.Object(
      { openapi: Type.String(), info: Type.Object({}), paths: Type.Object({}) },
      { additionalProperties: true, description: "The OpenAPI 3.1 document of this node's API" },
    ),
  }),
};

/** The document's view of a route: a documented-only body becomes the body. */
function documentRoute({ schema, url }: { schema: FastifySchema | undefined; url: string }): {
  schema: FastifySchema;
  url: string;
} {
  const { [DOCUMENTED_BODY]: documented, ...rest } = (schema ?? {}) as Record<string, unknown>;
  return { schema: documented === undefined ? rest : { ...rest, body: documented }, url };
}

interface Operation {
  [OPTIONAL_BODY]?: boolean;
  requestBody?: { required?: boolean };
}

/** Bodies marked optional lose the `required` the generator gives every body. */
function markOptionalBodies<T extends { paths?: object }>(document: T): T {
  for (const methods of Object.values(document.paths ?? {})) {
    for (const value of Object.values(methods as object)) {
      const operation = value as Operation;
      if (operation[OPTIONAL_BODY] !== true) continue;
      Reflect.deleteProperty(operation, OPTIONAL_BODY);
      if (operation.requestBody !== undefined) operation.requestBody.required = false;
    }
  }
  return document;
}

/** Registers the document's generator and its route; call before any other route is added. */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Grapevine node",
        description:
          "A node's client, admin and observability HTTP API. Every error is JSON: " +
          '`{"error": CODE, "message": TEXT, ...details}`.',
        version: API_DOCUMENT_VERSION,
      },
      tags: TAGS,
      // On a node with --certs-dir every client and operator route but the probes, this document
      // and the console's files needs a token or a client certificate (issue 18 §3;
      // security/route-access.ts gives each route's role). OpenAPI 3.1's mutualTLS scheme is not
      // in the generator's types, so the certificate is described beside the token; `{}`: a node
      // without --certs-dir is open.
      components: {
        securitySchemes: {
          bearerToken: {
            type: "http",
            scheme: "bearer",
            description:
              "`Authorization: Bearer gv_<id>_<secret>`, made with `grapevine token create`; or, " +
              "instead, a client certificate of the cluster's CA (its OU is its role). The role " +
              "(reader, writer, admin) decides what the caller may do.",
          },
        },
      },
      security: [{ bearerToken: [] }, {}],
    },
    transform: documentRoute,
    transformObject: (document) =>
      "openapiObject" in document
        ? markOptionalBodies(document.openapiObject)
        : document.swaggerObject,
  });
  app.get(OPENAPI_PATH, { schema: OPENAPI_SCHEMA }, async () => app.swagger());
}
