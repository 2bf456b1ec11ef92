// api/console-routes.ts — the web console (issue 20 §1): `/ui/` serves the browser files of the
// package's `ui/` folder as they are (plain ES modules, no bundler), and `/ui/vendor/<name>/` the
// three browser libraries they import (preact, htm, uPlot) from node_modules, so the console works
// offline and from a container. The page reads the node's own JSON and Prometheus endpoints; it has
// no API of its own. Static routes are hidden from the OpenAPI document: they are files, not API.
//
// `ui/` sits two folders above this file both in src/api/ (tsx, tests) and in dist/api/ (the
// build), so one relative URL finds it in a checkout, a package and the image.

import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyPluginAsync } from "fastify";
import { assert } from "../core/assert.js";
import { GrapevineError } from "../core/errors.js";
import { sendError } from "../net/fastify-errors.js";

export const CONSOLE_PREFIX = "/ui/";

const CONSOLE_ROOT = fileURLToPath(new URL("../../ui/", import.meta.url));

/**
 * The browser libraries the console imports (its import map names them), each with the folder of
 * its package that is served: only what the browser loads, not the package's sources or tests.
 */
const VENDOR_FOLDERS: readonly { readonly name: string; readonly folders: readonly string[] }[] = [
  { name: "preact", folders: ["dist", "hooks/dist"] },
  { name: "htm", folders: ["dist", "preact"] },
  { name: "uplot", folders: ["dist"] },
];

const require = createRequire(import.meta.url);

/**
 * A package's folder in node_modules, from its main entry, which each of these keeps in `dist/`.
 */
function packageRoot(name: string): string {
  const entryFolder = path.dirname(require.resolve(name));
  assert(path.basename(entryFolder) === "dist", `${name}'s entry is in its dist folder`);
  return path.dirname(entryFolder);
}

function servedFolder(folders: readonly string[]) {
  return (pathName: string): boolean =>
    folders.some((folder) => pathName.startsWith(`/${folder}/`));
}

/**
 * @fastify/send's refusal of a path (an http-errors error with a 4xx status): a path that climbs
 * out of its root is 403 to it, a missing file 404. To a client both are a file that is not there.
 */
function isFileRefusal(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const status = (error as { statusCode?: unknown }).statusCode;
  return typeof status === "number" && status >= 400 && status < 500;
}

export const consoleRoutes: FastifyPluginAsync = async (app) => {
  // Scoped to the console's routes; anything else goes on to the node's handler (api/errors.ts).
  app.setErrorHandler((error, request, reply) => {
    if (!isFileRefusal(error)) throw error;
    const shown = request.url.split("?")[0]?.slice(0, 200) ?? "";
    return sendError(reply, new GrapevineError("not_found", `no console file at ${shown}`));
  });
  await app.register(fastifyStatic, {
    root: CONSOLE_ROOT,
    prefix: CONSOLE_PREFIX,
    schemaHide: true,
    // Always revalidated: a node upgraded in place serves its new console at the next load.
    cacheControl: false,
    etag: true,
  });
  // `/ui` is sent to `/ui/`, the folder index.html's relative URLs hang from.
  app.get(CONSOLE_PREFIX.slice(0, -1), { schema: { hide: true } }, async (_request, reply) =>
    reply.redirect(CONSOLE_PREFIX),
  );
  for (const { name, folders } of VENDOR_FOLDERS) {
    const root = packageRoot(name);
    await app.register(fastifyStatic, {
      root,
      prefix: `${CONSOLE_PREFIX}vendor/${name}/`,
      decorateReply: false,
      schemaHide: true,
      index: false,
      allowedPath: servedFolder(folders),
    });
  }
};
