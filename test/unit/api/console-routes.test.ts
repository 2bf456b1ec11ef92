// The console's static routes refuse what is not a console file with the SPEC §2 body: a path that
// climbs out of ui/ or names nothing is 404 (never a 500, never a file outside the folder), and a
// missing file is a 404, not a 405 that says the path takes the very method asked.

import { afterAll, describe, expect, it } from "vitest";
import { consoleRoutes } from "../../../src/api/console-routes.js";
import { createHttpServer } from "../../../src/api/http-server.js";
import { TEST_HTTP_LIMITS } from "../../support/http-limits.js";

const app = createHttpServer(TEST_HTTP_LIMITS);
await app.register(consoleRoutes);
afterAll(() => app.close());

describe("the console's static routes", () => {
  it("serves the page and its scripts", async () => {
    expect((await app.inject({ url: "/ui/" })).statusCode).toBe(200);
    expect((await app.inject({ url: "/ui/app.js" })).statusCode).toBe(200);
  });

  it.each([
    "/ui/../../etc/passwd",
    "/ui/%2e%2e/package.json",
    "/ui/vendor/preact/../../../package.json",
    "/ui/vendor/preact/package.json",
    "/ui/no-such-file.js",
    "/ui/%00",
  ])("answers %s with 404 not_found", async (url) => {
    const answer = await app.inject({ url });
    expect(answer.statusCode).toBe(404);
    expect(answer.json<{ error: string }>().error).toBe("not_found");
    expect(answer.body).not.toContain("root:");
  });

  it("still answers a method the console does not take with 405", async () => {
    const answer = await app.inject({ method: "POST", url: "/ui/app.js" });
    expect(answer.statusCode).toBe(405);
    expect(answer.headers["allow"]).toBe("GET, HEAD");
  });
});
