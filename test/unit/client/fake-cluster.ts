// A fake Grapevine cluster for the client library's unit tests: node:http servers on 127.0.0.1
// port 0 that serve `/cluster/ring`, `/cluster/status` and `/kv/*` from one shared map, record the
// requests each node received, and can be told to answer a request some other way (a 503, a 504,
// silence, a dropped connection). The ring is whatever tokens the test gives each node.

import http from "node:http";
import type { AddressInfo } from "node:net";
import { tokenToString, type Token } from "../../../src/ring/partitioner.js";

export interface SeenRequest {
  readonly node: string;
  readonly method: string;
  readonly url: string;
}

/** What a node does with one /kv request; undefined: the normal answer. */
export type Behaviour = (
  node: string,
  method: string,
  url: string,
) => { status: number; body: unknown } | "hang" | "drop" | undefined;

export interface FakeNode {
  readonly id: string;
  readonly port: number;
  readonly url: string;
  /** What /cluster/status advertises; default `127.0.0.1:<port>`. */
  address: string;
  live: boolean;
  tokens: Token[];
}

export class FakeCluster {
  readonly nodes: FakeNode[] = [];
  readonly seen: SeenRequest[] = [];
  readonly store = new Map<string, { value: Buffer; type: string; ts: number }>();
  behaviour: Behaviour = () => undefined;
  replicationFactor = 1;
  #servers: http.Server[] = [];
  #clock = 1_000;

  static async start(tokens: readonly (readonly Token[])[]): Promise<FakeCluster> {
    const cluster = new FakeCluster();
    for (const [index, own] of tokens.entries()) await cluster.#listen(`n${index}`, [...own]);
    return cluster;
  }

  node(id: string): FakeNode {
    const node = this.nodes.find((candidate) => candidate.id === id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  /** The /kv requests each node received. */
  kvRequestsAt(id: string): SeenRequest[] {
    return this.seen.filter((seen) => seen.node === id && seen.url.startsWith("/kv/"));
  }

  async #listen(id: string, tokens: Token[]): Promise<void> {
    const server = http.createServer((request, response) => this.#serve(id, request, response));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    this.#servers.push(server);
    this.nodes.push({
      id,
      port,
      url: `http://127.0.0.1:${port}`,
      address: `127.0.0.1:${port}`,
      live: true,
      tokens,
    });
  }

  /** Stops one node's server: its port then refuses connections. */
  async stop(id: string): Promise<void> {
    const index = this.nodes.findIndex((node) => node.id === id);
    const server = this.#servers[index];
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async close(): Promise<void> {
    for (const node of this.nodes) await this.stop(node.id);
  }

  #ringBody(id: string): unknown {
    const tokens = this.nodes
      .flatMap((node) => node.tokens.map((token) => ({ token, owner: node.id })))
      .sort((a, b) => (a.token < b.token ? -1 : a.token > b.token ? 1 : 0))
      .map(({ token, owner }) => ({ token: tokenToString(token), owner }));
    return { node: id, replicationFactor: this.replicationFactor, tokens, ranges: [] };
  }

  #statusBody(id: string): unknown {
    const members = this.nodes.map((node) => ({
      id: node.id,
      address: node.address,
      state: "normal",
      live: node.live,
    }));
    return { node: id, members, serving: true };
  }

  #serve(id: string, request: http.IncomingMessage, response: http.ServerResponse): void {
    const url = request.url ?? "/";
    const method = request.method ?? "GET";
    this.seen.push({ node: id, method, url });
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const json = (status: number, body: unknown): void => {
        response.writeHead(status, { "content-type": "application/json" });
        response.end(JSON.stringify(body));
      };
      if (url === "/cluster/ring") return json(200, this.#ringBody(id));
      if (url === "/cluster/status") return json(200, this.#statusBody(id));
      const special = this.behaviour(id, method, url);
      if (special === "hang") return;
      if (special === "drop") return void request.socket.destroy();
      if (special !== undefined) return json(special.status, special.body);
      this.#kv(method, url, request.headers["content-type"], Buffer.concat(chunks), response);
    });
  }

  #kv(
    method: string,
    url: string,
    type: string | undefined,
    body: Buffer,
    response: http.ServerResponse,
  ): void {
    const key = decodeURIComponent((url.split("?")[0] ?? "").slice("/kv/".length));
    const ts = String(this.#clock++);
    if (method === "PUT") {
      this.store.set(key, {
        value: body,
        type: type ?? "application/octet-stream",
        ts: Number(ts),
      });
      response.writeHead(204, { "x-grapevine-timestamp": ts }).end();
    } else if (method === "DELETE") {
      this.store.delete(key);
      response.writeHead(204, { "x-grapevine-timestamp": ts }).end();
    } else {
      const entry = this.store.get(key);
      if (entry === undefined) {
        response.writeHead(404, { "content-type": "application/json" });
        response.end(JSON.stringify({ error: "not_found", message: "the key has no value" }));
        return;
      }
      response.writeHead(200, {
        "content-type": entry.type,
        "x-grapevine-timestamp": String(entry.ts),
      });
      response.end(entry.value);
    }
  }
}
