// cli/bench/token-route.ts — `grapevine bench --client token-aware`: each request goes to a
// replica of its key, chosen by the client library (src/client/) from the ring it reads from the
// given nodes. The bench keeps its own cheap KvClient for the requests themselves, so the two
// --client modes differ only in which node a request goes to: the difference is the hop saved.
//
// A record's replicas are looked up once and kept (a small array per record touched); successive
// requests for a record rotate over its replicas, spreading a hot key's work. The ring is read
// once, before the load: a benchmark measures a stable cluster.

import { Grapevine } from "../../client/index.js";
import { CliError } from "../shared.js";
import { tlsConnect } from "../tls-client.js";
import { tokenOption } from "../token-client.js";
import { recordKey } from "./key-chooser.js";

/** The node (an index into the bench client's URLs) of the `turn`-th request, for record `key`. */
export type NodeRoute = (keyIndex: number, turn: number) => number;

export interface TokenRoute {
  /** The live members' URLs, as the ring names them: the bench's KvClient pools. */
  readonly urls: readonly string[];
  readonly route: NodeRoute;
  close(): Promise<void>;
}

export async function tokenAwareRoute(seeds: readonly string[]): Promise<TokenRoute> {
  const db = new Grapevine({ nodes: seeds, tls: tlsConnect(), ...tokenOption() });
  await db.connect();
  const urls = db
    .members()
    .filter((member) => member.live)
    .map((member) => member.url);
  if (urls.length === 0) {
    await db.close();
    throw new CliError(`could not read the ring from ${seeds.join(", ")}`);
  }
  const indexOf = new Map(urls.map((url, index) => [url, index]));
  const replicas: (readonly number[] | undefined)[] = [];
  const replicasOf = (keyIndex: number): readonly number[] => {
    let list = replicas[keyIndex];
    if (list === undefined) {
      list = db
        .replicasOf(recordKey(keyIndex))
        .map((url) => indexOf.get(url))
        .filter((index): index is number => index !== undefined);
      // A key whose replicas are all down still goes somewhere: any node coordinates it.
      if (list.length === 0) list = [keyIndex % urls.length];
      replicas[keyIndex] = list;
    }
    return list;
  };
  return {
    urls,
    route: (keyIndex, turn) => {
      const list = replicasOf(keyIndex);
      return list[turn % list.length] as number;
    },
    close: () => db.close(),
  };
}
