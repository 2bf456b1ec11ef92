// api/token-routes.ts — bearer tokens over HTTP (issue 18 §3), admin only (security/route-
// access.ts): `POST /admin/tokens {"role", "lifetimeDays"?}` makes one and answers its text, the
// one time it is ever shown; `GET /admin/tokens` lists ids, roles, times and whether revoked,
// never a secret or a hash; `DELETE /admin/tokens/:id` revokes one, everywhere once gossip has
// spread it.

import { Type, type Static } from "@sinclair/typebox";
import type { FastifyPluginAsync } from "fastify";
import { GrapevineError } from "../core/errors.js";
import { ROLES } from "../security/roles.js";
import type { TokenRecord } from "../security/token-book.js";
import { TOKENS_PATH } from "../security/route-access.js";
import { isTokenId, TOKEN_LIMITS } from "../security/tokens.js";
import { answers } from "./answer-schemas.js";
import type { TokenRegistry } from "./token-registry.js";

export interface TokenRoutesOptions {
  readonly registry: TokenRegistry;
}

/** A token request's body is a role and a number: far under this. */
const TOKEN_BODY_BYTES_MAX = 1024;

const CreateBody = Type.Object(
  {
    role: Type.Union(ROLES.map((role) => Type.Literal(role))),
    lifetimeDays: Type.Optional(
      Type.Integer({ minimum: 1, maximum: TOKEN_LIMITS.lifetimeDaysMax }),
    ),
  },
  { additionalProperties: false },
);

const TokenInfo = Type.Object({
  id: Type.String(),
  role: Type.String(),
  createdAt: Type.String({ description: "ISO 8601" }),
  expiresAt: Type.String({ description: "ISO 8601" }),
  revoked: Type.Boolean(),
});

const Created = Type.Object({
  token: Type.String({ description: "gv_<id>_<secret>: shown this once, stored only as a hash" }),
  id: Type.String(),
  role: Type.String(),
  createdAt: Type.String(),
  expiresAt: Type.String(),
  revoked: Type.Boolean(),
});

const TokenParams = Type.Object({ id: Type.String() });

function infoOf(record: TokenRecord): Static<typeof TokenInfo> {
  return {
    id: record.id,
    role: record.role,
    createdAt: new Date(record.createdAtMs).toISOString(),
    expiresAt: new Date(record.expiresAtMs).toISOString(),
    revoked: record.revoked,
  };
}

export const tokenRoutes: FastifyPluginAsync<TokenRoutesOptions> = async (app, options) => {
  const { registry } = options;

  app.post(
    TOKENS_PATH,
    {
      bodyLimit: TOKEN_BODY_BYTES_MAX,
      schema: {
        summary: "Creates a bearer token; its text is in this answer only",
        tags: ["admin"],
        body: CreateBody,
        response: answers({ 201: Created }, "bad_request"),
      },
    },
    async (request, reply) => {
      const body = request.body as Static<typeof CreateBody>;
      const created = registry.create(body.role, body.lifetimeDays);
      return reply.code(201).send({ token: created.token, ...infoOf(created.record) });
    },
  );

  app.get(
    TOKENS_PATH,
    {
      schema: {
        summary: "Every token: ids, roles, times, revoked (no secrets)",
        tags: ["admin"],
        response: answers({ 200: Type.Object({ tokens: Type.Array(TokenInfo) }) }),
      },
    },
    async () => ({ tokens: registry.list().map(infoOf) }),
  );

  app.delete(
    `${TOKENS_PATH}/:id`,
    {
      schema: {
        summary: "Revokes a token on every node (spread by gossip within seconds)",
        tags: ["admin"],
        params: TokenParams,
        response: answers({ 200: TokenInfo }, "not_found"),
      },
    },
    async (request) => {
      const { id } = request.params as Static<typeof TokenParams>;
      if (!isTokenId(id)) throw new GrapevineError("not_found", "no such token id");
      return infoOf(registry.revoke(id));
    },
  );
};
