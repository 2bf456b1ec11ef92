// net/repair-client.ts — the RepairTransport (antientropy/repair-session.ts) over HTTP: the
// questions of net/repair-protocol.ts to another replica's repair route, through a PeerHttp
// (net/peer-http.ts) — by default undici keep-alive pools of their own (one small pool per peer),
// so repair traffic never queues behind client writes in the replica client's lanes, and a slow
// repair never delays a heartbeat.
//
// A session asks one question at a time, so one or two connections per peer suffice. Every reply is
// read with a byte bound and checked against its schema, and its hashes against the shape asked
// for, before the session sees it: a malformed reply fails the session (counted), it is not
// trusted. Each answer reports the body bytes both ways, which the session counts as bytes on the
// wire.

import type { Address, NodeId } from "../core/ids.js";
import type { RangeBounds } from "../antientropy/hash-tree.js";
import type {
  BucketsAsk,
  EntriesAsk,
  ExchangeResult,
  NodesAsk,
  RepairTransport,
  Traffic,
} from "../antientropy/repair-session.js";
import type { VersionEntry } from "../antientropy/tree-diff.js";
import { decodeRecord, encodeRecord, type KeyedRecord } from "../storage/record.js";
import { secretHeaders } from "./auth.js";
import { decodePeerBody, encodePeerBody, PEER_CONTENT_TYPE } from "./codec.js";
import type { PeerTls } from "./peer-tls.js";
import type { PeerHttp } from "./peer-http.js";
import { UndiciPeerHttp } from "./undici-peer-http.js";
import {
  bucketsReplyCheck,
  entriesReplyCheck,
  exchangeReplyCheck,
  firstRepairViolation,
  nodesReplyCheck,
  REPAIR_HASH_BYTES,
  REPAIR_NODE_HASH_BYTES,
  REPAIR_PATH,
  REPAIR_REPLY_BYTES_MAX,
  rootsReplyCheck,
} from "./repair-protocol.js";

export const REPAIR_CLIENT_DEFAULTS = {
  /** One session asks one question at a time; two leave room for a second concurrent session. */
  connectionsPerPeer: 2,
  keepAliveMs: 30_000,
  connectTimeoutMs: 2_000,
  /**
   * A question about a large range (building its tree, listing its leaves) takes well under this.
   */
  requestTimeoutMs: 60_000,
  /** Peers with an open pool; beyond it the oldest is closed. */
  peersMax: 1_024,
} as const;

export interface RepairClientOptions {
  readonly self: NodeId;
  readonly clusterSecret: string | null;
  readonly requestTimeoutMs?: number;
}

export interface RepairClientDeps {
  addressOf(id: NodeId): Address | undefined;
  /**
   * How questions reach a peer; by default this client's own undici pools (closed with it). An
   * injected one is closed by its owner; the client only `forget`s addresses it stops using.
   */
  readonly http?: PeerHttp;
  /** With --certs-dir: its own pools speak mutual TLS with this material (net/peer-tls.ts). */
  readonly tls?: PeerTls;
}

/** A repair question failed: no address, unreachable, refused, or a malformed reply. */
export class RepairRequestError extends Error {
  override readonly name = "RepairRequestError";
  constructor(
    readonly peer: NodeId,
    readonly reason: "no-address" | "unreachable" | "refused" | "malformed-reply" | "closed",
    message: string,
  ) {
    super(message);
  }
}

interface Check<T> {
  Check(value: unknown): value is T;
  Errors(value: unknown): Iterable<{ path: string; message: string }>;
}

function splitHashes(blob: Uint8Array, count: number, peer: NodeId, size: number): Uint8Array[] {
  if (blob.length !== count * size) {
    throw new RepairRequestError(
      peer,
      "malformed-reply",
      `expected ${count} hashes, got ${blob.length} bytes`,
    );
  }
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) out.push(blob.subarray(i * size, (i + 1) * size));
  return out;
}

function wireRange(range: RangeBounds): [bigint, bigint] {
  return [range.start, range.end];
}

export class RepairClient implements RepairTransport {
  /**
   * The address each peer was last asked at, in first-use order (the oldest is forgotten first).
   */
  readonly #addresses = new Map<NodeId, Address>();
  readonly #headers: Record<string, string>;
  readonly #http: PeerHttp;
  readonly #ownsHttp: boolean;
  readonly #timeoutMs: number;
  #closed = false;
  requestsFailed = 0;

  constructor(
    private readonly options: RepairClientOptions,
    private readonly deps: RepairClientDeps,
  ) {
    this.#headers = { "content-type": PEER_CONTENT_TYPE, ...secretHeaders(options.clusterSecret) };
    this.#timeoutMs = options.requestTimeoutMs ?? REPAIR_CLIENT_DEFAULTS.requestTimeoutMs;
    this.#ownsHttp = deps.http === undefined;
    this.#http =
      deps.http ??
      new UndiciPeerHttp({
        connections: REPAIR_CLIENT_DEFAULTS.connectionsPerPeer,
        pipelining: 1,
        keepAliveMs: REPAIR_CLIENT_DEFAULTS.keepAliveMs,
        connectTimeoutMs: REPAIR_CLIENT_DEFAULTS.connectTimeoutMs,
        ...(deps.tls === undefined ? {} : { tls: deps.tls }),
      });
  }

  async roots(
    peer: NodeId,
    session: string,
    window: number,
    ranges: readonly RangeBounds[],
  ): Promise<Traffic<Uint8Array[]>> {
    const reply = await this.#ask(
      peer,
      { op: "roots", session, window, ranges: ranges.map(wireRange) },
      rootsReplyCheck,
    );
    return {
      ...reply,
      value: splitHashes(reply.value.hashes, ranges.length, peer, REPAIR_NODE_HASH_BYTES),
    };
  }

  async nodes(
    peer: NodeId,
    session: string,
    asks: readonly NodesAsk[],
  ): Promise<Traffic<Uint8Array[][]>> {
    const wire = asks.map((ask) => [
      ask.range,
      ask.levels,
      ...ask.nodes.flatMap((node) => [node.depth, node.index]),
    ]);
    const reply = await this.#ask(peer, { op: "nodes", session, asks: wire }, nodesReplyCheck);
    if (reply.value.hashes.length !== asks.length) {
      throw new RepairRequestError(
        peer,
        "malformed-reply",
        `${reply.value.hashes.length} answers to ${asks.length} asks`,
      );
    }
    // The count per ask is checked by the session against the nodes it asked (tree-diff
    // roundQuestions).
    const value = reply.value.hashes.map((blob) => {
      if (blob.length % REPAIR_NODE_HASH_BYTES !== 0)
        throw new RepairRequestError(peer, "malformed-reply", "a hash blob of odd length");
      return splitHashes(blob, blob.length / REPAIR_NODE_HASH_BYTES, peer, REPAIR_NODE_HASH_BYTES);
    });
    return { ...reply, value };
  }

  async entries(
    peer: NodeId,
    session: string,
    asks: readonly EntriesAsk[],
  ): Promise<Traffic<(VersionEntry[] | null)[]>> {
    const wire = asks.map((ask) =>
      ask.bits !== undefined && ask.bucket !== undefined
        ? [ask.range, ask.first, ask.end, ask.bits, ask.bucket]
        : [ask.range, ask.first, ask.end],
    );
    const reply = await this.#ask(peer, { op: "entries", session, asks: wire }, entriesReplyCheck);
    if (reply.value.lists.length !== asks.length) {
      throw new RepairRequestError(
        peer,
        "malformed-reply",
        `${reply.value.lists.length} lists for ${asks.length} asks`,
      );
    }
    const value = reply.value.lists.map((list) => {
      if (list === null) return null;
      const [keys, timestamps, hashes] = list;
      if (timestamps.length !== keys.length)
        throw new RepairRequestError(
          peer,
          "malformed-reply",
          "keys and timestamps differ in number",
        );
      const split = splitHashes(hashes, keys.length, peer, REPAIR_HASH_BYTES);
      return keys.map((key, index): VersionEntry => ({
        key,
        timestampUs: timestamps[index] as number,
        hash: split[index] as Uint8Array,
      }));
    });
    return { ...reply, value };
  }

  async buckets(
    peer: NodeId,
    session: string,
    asks: readonly BucketsAsk[],
  ): Promise<Traffic<(Uint8Array[] | null)[]>> {
    const wire = asks.map((ask) => [ask.range, ask.leaf, ask.bits]);
    const reply = await this.#ask(peer, { op: "buckets", session, asks: wire }, bucketsReplyCheck);
    if (reply.value.hashes.length !== asks.length) {
      throw new RepairRequestError(
        peer,
        "malformed-reply",
        `${reply.value.hashes.length} answers to ${asks.length} bucket asks`,
      );
    }
    const value = reply.value.hashes.map((blob, index) =>
      blob === null
        ? null
        : splitHashes(blob, 2 ** (asks[index] as BucketsAsk).bits, peer, REPAIR_NODE_HASH_BYTES),
    );
    return { ...reply, value };
  }

  async exchange(
    peer: NodeId,
    push: readonly KeyedRecord[],
    pull: readonly string[],
  ): Promise<Traffic<ExchangeResult>> {
    const body = {
      op: "exchange",
      push: push.map(({ key, record }) => [key, encodeRecord(record)]),
      pull,
    };
    const reply = await this.#ask(peer, body, exchangeReplyCheck);
    if (
      reply.value.records.length > pull.length ||
      (pull.length > 0 && reply.value.records.length === 0)
    ) {
      throw new RepairRequestError(
        peer,
        "malformed-reply",
        `${reply.value.records.length} answers to ${pull.length} pulled keys`,
      );
    }
    const records: KeyedRecord[] = [];
    for (const [index, bytes] of reply.value.records.entries()) {
      if (bytes === null) continue;
      const key = pull[index] as string;
      try {
        records.push({ key, record: decodeRecord(bytes) });
      } catch (error) {
        throw new RepairRequestError(
          peer,
          "malformed-reply",
          `a pulled record is malformed: ${(error as Error).message}`,
        );
      }
    }
    return { ...reply, value: { records, missing: pull.length - reply.value.records.length } };
  }

  async close(): Promise<void> {
    this.#closed = true;
    const addresses = [...this.#addresses.values()];
    this.#addresses.clear();
    if (this.#ownsHttp) await this.#http.close();
    else for (const address of addresses) this.#http.forget(address);
  }

  async #ask<T>(
    peer: NodeId,
    message: Record<string, unknown>,
    check: Check<T>,
  ): Promise<Traffic<T>> {
    if (this.#closed) throw new RepairRequestError(peer, "closed", "the repair client is closed");
    const address = this.#address(peer);
    const body = encodePeerBody({ from: this.options.self, ...message });
    let bytes: Buffer;
    try {
      const response = await this.#http.request(address, {
        method: "POST",
        path: REPAIR_PATH,
        to: peer,
        headers: this.#headers,
        body,
        replyBytesMax: REPAIR_REPLY_BYTES_MAX,
        timeoutMs: this.#timeoutMs,
      });
      if (response.statusCode !== 200) {
        const text = response.body === null ? "" : response.body.toString("utf8");
        throw new RepairRequestError(
          peer,
          "refused",
          `replica ${peer} answered ${response.statusCode} ${text.slice(0, 200)}`,
        );
      }
      bytes = response.body ?? Buffer.alloc(0);
    } catch (error) {
      this.requestsFailed++;
      if (error instanceof RepairRequestError) throw error;
      throw new RepairRequestError(
        peer,
        "unreachable",
        `replica ${peer} unreachable: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    let decoded: unknown;
    try {
      decoded = decodePeerBody(bytes);
    } catch {
      this.requestsFailed++;
      throw new RepairRequestError(
        peer,
        "malformed-reply",
        `replica ${peer} sent a reply that is not msgpack`,
      );
    }
    if (!check.Check(decoded)) {
      this.requestsFailed++;
      throw new RepairRequestError(
        peer,
        "malformed-reply",
        `replica ${peer} sent a bad reply: ${firstRepairViolation(check, decoded)}`,
      );
    }
    return { value: decoded, bytesSent: body.length, bytesReceived: bytes.length };
  }

  #address(peer: NodeId): Address {
    const address = this.deps.addressOf(peer);
    if (address === undefined)
      throw new RepairRequestError(peer, "no-address", `no address known for ${peer}`);
    const known = this.#addresses.get(peer);
    if (known === address) return address;
    // The peer came back at another address: its old pool is useless.
    if (known !== undefined) this.#http.forget(known);
    this.#addresses.set(peer, address);
    if (this.#addresses.size > REPAIR_CLIENT_DEFAULTS.peersMax) {
      const [oldest] = this.#addresses;
      if (oldest !== undefined && oldest[0] !== peer) {
        this.#addresses.delete(oldest[0]);
        this.#http.forget(oldest[1]);
      }
    }
    return address;
  }
}
