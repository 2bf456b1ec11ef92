// client/ring-snapshot.ts — the ring as one node described it, as the client routes by it: the
// members with the URL the client reaches each at, and the replicas of a key.
//
// It is built from two read-only admin routes of SPEC §3: `/cluster/ring` (every token of a
// normal member with its owner, and the replication factor) and `/cluster/status` (each member's
// advertised address and liveness). The replicas of a key are computed with the node's own
// partitioner and placement (ring/partitioner.ts, ring/placement.ts) from the same tokens, so the
// client picks the same replicas the coordinator will, and any disagreement (a ring that moved
// since) costs only the hop the client meant to save: whichever node receives a request
// coordinates it correctly.
//
// Pure: the bodies are parsed and checked here, and nothing reads a clock or the network.

import type { NodeId } from "../core/ids.js";
import { tokenFromString, tokenOf, type Token } from "../ring/partitioner.js";
import { sharedReplicasFor } from "../ring/placement.js";
import { TokenMap } from "../ring/token-map.js";
import type { AddressTranslator } from "./options.js";

export interface SnapshotMember {
  readonly id: NodeId;
  /** Where this client reaches it, after the address translator. */
  readonly url: string;
  /** Up in the view of the node that answered, and not `left`. */
  readonly live: boolean;
}

export const RING_BODY_LIMITS = {
  /** A ring larger than this is not a Grapevine ring (4096 members of 1024 tokens). */
  tokensMax: 4_194_304,
  membersMax: 4_096,
  replicationFactorMax: 32,
} as const;

/** Why a body could not be read as a ring; the snapshot is then not replaced. */
export class RingBodyError extends Error {
  override readonly name = "RingBodyError";
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new RingBodyError(`${what} is not an object`);
  return value as Record<string, unknown>;
}

function list(value: unknown, what: string, max: number): unknown[] {
  if (!Array.isArray(value) || value.length > max)
    throw new RingBodyError(`${what} is not a list of at most ${max}`);
  return value;
}

function text(value: unknown, what: string): string {
  if (typeof value !== "string" || value.length === 0)
    throw new RingBodyError(`${what} is not a string`);
  return value;
}

function parseOwners(ringBody: unknown): {
  owners: Map<NodeId, Token[]>;
  replicationFactor: number;
} {
  const body = record(ringBody, "/cluster/ring");
  const replicationFactor = body["replicationFactor"];
  if (
    typeof replicationFactor !== "number" ||
    !Number.isSafeInteger(replicationFactor) ||
    replicationFactor < 1 ||
    replicationFactor > RING_BODY_LIMITS.replicationFactorMax
  )
    throw new RingBodyError("/cluster/ring replicationFactor is not a count");
  const owners = new Map<NodeId, Token[]>();
  for (const entry of list(body["tokens"], "/cluster/ring tokens", RING_BODY_LIMITS.tokensMax)) {
    const row = record(entry, "a token row");
    const owner = text(row["owner"], "a token's owner");
    let token: Token;
    try {
      token = tokenFromString(text(row["token"], "a token"));
    } catch (error) {
      throw new RingBodyError((error as Error).message);
    }
    const tokens = owners.get(owner) ?? [];
    tokens.push(token);
    owners.set(owner, tokens);
  }
  return { owners, replicationFactor };
}

function parseMembers(statusBody: unknown, translate: AddressTranslator): SnapshotMember[] {
  const body = record(statusBody, "/cluster/status");
  const rows = list(body["members"], "/cluster/status members", RING_BODY_LIMITS.membersMax);
  const members: SnapshotMember[] = [];
  for (const entry of rows) {
    const row = record(entry, "a member row");
    const id = text(row["id"], "a member's id");
    const address = text(row["address"], "a member's address");
    if (row["state"] === "left") continue;
    const url = translate({ id, address });
    if (url === undefined) continue;
    members.push({ id, url, live: row["live"] === true });
  }
  return members;
}

export class RingSnapshot {
  readonly members: readonly SnapshotMember[];
  readonly #byId: ReadonlyMap<NodeId, SnapshotMember>;
  readonly #ring: TokenMap;
  readonly #replicationFactor: number;

  private constructor(
    ring: TokenMap,
    replicationFactor: number,
    members: readonly SnapshotMember[],
  ) {
    this.#ring = ring;
    this.#replicationFactor = replicationFactor;
    this.members = members;
    this.#byId = new Map(members.map((member) => [member.id, member]));
  }

  /** From the bodies of `/cluster/ring` and `/cluster/status`; throws RingBodyError. */
  static parse(ringBody: unknown, statusBody: unknown, translate: AddressTranslator): RingSnapshot {
    const { owners, replicationFactor } = parseOwners(ringBody);
    const members = parseMembers(statusBody, translate);
    if (members.length === 0) throw new RingBodyError("/cluster/status names no member");
    return new RingSnapshot(TokenMap.build(owners), replicationFactor, members);
  }

  member(id: NodeId): SnapshotMember | undefined {
    return this.#byId.get(id);
  }

  /** The replicas of the key, primary first, that this client can reach. */
  replicasOf(key: string): SnapshotMember[] {
    if (this.#ring.size === 0) return [];
    const ids = sharedReplicasFor(this.#ring, tokenOf(key), this.#replicationFactor);
    const replicas: SnapshotMember[] = [];
    for (const id of ids) {
      const member = this.#byId.get(id);
      if (member !== undefined) replicas.push(member);
    }
    return replicas;
  }

  /** Same members at the same URLs with the same liveness, and the same tokens. */
  sameAs(other: RingSnapshot): boolean {
    return (
      other.#ring.equals(this.#ring) &&
      other.#replicationFactor === this.#replicationFactor &&
      other.members.length === this.members.length &&
      other.members.every((member) => {
        const mine = this.#byId.get(member.id);
        return mine?.url === member.url && mine.live === member.live;
      })
    );
  }
}
