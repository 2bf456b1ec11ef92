// security/route-access.ts — which credential each client and operator route needs (issue 18 §3),
// as one table from a method and a path. The roles nest (security/roles.ts): reader reads (GET of
// keys, buckets, the cluster's state, metrics), writer also writes keys (PUT, DELETE), admin also
// runs the operator's routes (repair, decommission, removenode, stop, future records, bucket
// properties, tokens).
//
// `open` routes hold no data and stay reachable without a credential (issue 18 §4): the probes, the
// OpenAPI document and the console's static files (the console's own calls carry a token). `peer`
// routes are the node-to-node ones, governed by net/route-guard.ts's node certificate check and
// never by a client's credential. Any route not in the table needs admin: a route added later is
// closed until someone decides otherwise.
//
// A node certificate is a machine's, not a person's: it may read the cluster's state (/cluster/*),
// and create a token, so that `grapevine token create` run on a node's machine with its certs dir
// makes the first admin credential (whoever holds a node's key can already act as that node).
//
// Pure: no IO.

import type { Role } from "./roles.js";

export type RouteAccess =
  | { readonly kind: "open" }
  | { readonly kind: "peer" }
  | { readonly kind: "role"; readonly role: Role };

const OPEN: RouteAccess = { kind: "open" };
const PEER: RouteAccess = { kind: "peer" };
const READER: RouteAccess = { kind: "role", role: "reader" };
const WRITER: RouteAccess = { kind: "role", role: "writer" };
const ADMIN: RouteAccess = { kind: "role", role: "admin" };

/** The routes every caller reaches (GET or HEAD only). */
const OPEN_PATHS: ReadonlySet<string> = new Set(["/health", "/ready", "/openapi.json", "/ui"]);
export const TOKENS_PATH = "/admin/tokens";

const READ_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD"]);

/** Whether a method leaves the server's state as it was (so a cross-site request cannot harm). */
export function isSafeMethod(method: string): boolean {
  return READ_METHODS.has(method.toUpperCase()) || method.toUpperCase() === "OPTIONS";
}

/** The path of a request URL: no query, no fragment. */
export function pathOf(url: string): string {
  const end = url.search(/[?#]/);
  return end === -1 ? url : url.slice(0, end);
}

function isKeyPath(path: string): boolean {
  return path.startsWith("/kv/") || /^\/buckets\/[^/]+\/keys\//.test(path);
}

/** How a node opens its routes beyond the table: `--metrics-open` (issue 18 §4). */
export interface AccessSettings {
  readonly metricsOpen: boolean;
}

/** What a request to `path` with `method` needs. */
export function routeAccess(
  method: string,
  url: string,
  settings: AccessSettings = { metricsOpen: false },
): RouteAccess {
  const path = pathOf(url);
  const verb = method.toUpperCase();
  const reading = READ_METHODS.has(verb);
  if (path.startsWith("/internal/")) return PEER;
  if (reading && (OPEN_PATHS.has(path) || path.startsWith("/ui/"))) return OPEN;
  if (reading && path === "/metrics" && settings.metricsOpen) return OPEN;
  if (isKeyPath(path)) {
    if (reading) return READER;
    return verb === "PUT" || verb === "DELETE" ? WRITER : ADMIN;
  }
  if (path === "/buckets" || path.startsWith("/buckets/")) return reading ? READER : ADMIN;
  if (path === "/metrics" || path.startsWith("/cluster/")) return reading ? READER : ADMIN;
  return ADMIN;
}

/** Whether a node certificate, presented as a client's, may make this request. */
export function nodeCertificateMay(method: string, url: string): boolean {
  const path = pathOf(url);
  const verb = method.toUpperCase();
  if (READ_METHODS.has(verb)) return path.startsWith("/cluster/");
  return verb === "POST" && path === TOKENS_PATH;
}

const ROLE_RANK: Readonly<Record<Role, number>> = { reader: 0, writer: 1, admin: 2 };

/** Whether `held` includes what `needed` allows. */
export function roleIncludes(held: Role, needed: Role): boolean {
  return ROLE_RANK[held] >= ROLE_RANK[needed];
}

/** A header a browser's cross-site form or simple request cannot send (CLI and library send it). */
export const REQUEST_HEADER = "x-grapevine-request";

/** The content types an HTML form (or a CORS "simple" request) can send cross-site. */
const SIMPLE_CONTENT_TYPES: ReadonlySet<string> = new Set([
  "application/x-www-form-urlencoded",
  "multipart/form-data",
  "text/plain",
]);

/**
 * Whether a request could have been sent by a page on another site without the browser asking
 * first: no custom header and a content type a form can send (or none). Such a request, when it
 * changes state and is authenticated by a certificate the browser presents on its own, is refused.
 */
export function couldBeCrossSite(headers: {
  readonly [name: string]: string | readonly string[] | undefined;
}): boolean {
  if (headers[REQUEST_HEADER] !== undefined) return false;
  const type = headers["content-type"];
  if (type === undefined) return true;
  const media = (typeof type === "string" ? type : (type[0] ?? "")).split(";")[0] ?? "";
  return SIMPLE_CONTENT_TYPES.has(media.trim().toLowerCase());
}
