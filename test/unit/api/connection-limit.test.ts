// At most so many open connections from one address (issue 18 §5): past the limit a plain
// connection's requests get 503 `unavailable` with the SPEC §2 body, and a connection closed makes
// room for the next.

import { connect, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { createHttpServer } from "../../../src/api/http-server.js";
import { TEST_HTTP_LIMITS } from "../../support/http-limits.js";

const app = createHttpServer({ ...TEST_HTTP_LIMITS, connectionsPerAddressMax: 2 });
app.get("/ping", async () => ({ pong: true }));
await app.listen({ host: "127.0.0.1", port: 0 });
const { port } = app.server.address() as AddressInfo;
const sockets: Socket[] = [];
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await app.close();
});

async function opened(): Promise<Socket> {
  const socket = connect({ host: "127.0.0.1", port });
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return socket;
}

/** One keep-alive request on the socket; the status line and the body. */
function ping(socket: Socket): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    let text = "";
    const onData = (chunk: Buffer): void => {
      text += chunk.toString("utf8");
      const [head = "", body = ""] = text.split("\r\n\r\n");
      const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? NaN);
      if (Buffer.byteLength(body) < length) return;
      socket.off("data", onData);
      resolve({ status: Number(head.split(" ")[1]), body });
    };
    socket.on("data", onData);
    socket.once("error", reject);
    socket.write("GET /ping HTTP/1.1\r\nHost: test\r\n\r\n");
  });
}

describe("connections per client address", () => {
  it("answers the connections within the limit, refuses the next, and admits one once room is made", async () => {
    const first = await opened();
    const second = await opened();
    expect((await ping(first)).status).toBe(200);
    expect((await ping(second)).status).toBe(200);
    const third = await opened();
    const refused = await ping(third);
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body)).toMatchObject({ error: "unavailable", reason: "connections" });
    expect(JSON.parse(refused.body).message).toMatch(/too many connections from 127\.0\.0\.1/);
    // The two admitted keep working.
    expect((await ping(first)).status).toBe(200);
    first.destroy();
    await new Promise<void>((resolve) => first.once("close", () => resolve()));
    // The refused one is closed by the node; the count frees as sockets close.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const fourth = await opened();
    expect((await ping(fourth)).status).toBe(200);
  });
});
