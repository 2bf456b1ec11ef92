// gossip/exchange.ts — the push-pull exchange of a gossip round, Cassandra's SYN → ACK → ACK2
// (messages.ts), as seen from one node: which digests to offer, what to send and request in return,
// and how a message's deltas are cut to its budget.
//
// A peer whose summary differs from the syn's answers with its digests; the initiator answers with
// the deltas the peer lacks and requests for what it lacks (ackFor, Cassandra's examineGossiper);
// the peer answers the requests (answerRequests). Both sides then hold the union. The sender of a
// digest list is the authority on its own state, so it is never sent its own state back.
//
// Bounds: a membership larger than the digest window is offered as a rotating window of ids, plus
// the requester's own digest so a node can always introduce itself; a member the sender did not
// list although its window covered it is one the sender does not know, and is sent whole. A delta
// is cut to the estimated bytes and entries per message; a truncated delta is a valid prefix, and
// the next message goes on from where this one stopped, rotating over members by id so none is
// starved.

import { assert } from "../core/assert.js";
import type { Address, NodeId } from "../core/ids.js";
import { compareDigest, inCyclicRange } from "./digest.js";
import { cutDelta, type EndpointRecord } from "./endpoint-state.js";
import type { EndpointTable } from "./endpoint-table.js";
import {
  GOSSIP_LIMITS,
  type Delta,
  type DigestRequest,
  type GossipAck,
  type GossipDigests,
} from "./messages.js";

export interface ExchangeOptions {
  readonly self: NodeId;
  readonly address: Address;
  /** Requests for new members stop where the table would hold this many. */
  readonly membersMax: number;
  readonly digestsPerMessageMax: number;
  readonly deltasPerMessageMax: number;
  /** One state is always sent even if it alone exceeds this. */
  readonly deltaBytesPerMessageMax: number;
}

interface DeltaCandidate {
  readonly record: EndpointRecord;
  readonly fromVersion: number;
  readonly throughVersion: number;
}

export class Exchange {
  private readonly options: ExchangeOptions;
  private readonly table: EndpointTable;
  /** Where the next digest window starts, as an index into the sorted ids. */
  private digestCursor = 0;
  /** Where the next delta starts after a truncated one: the first member id not fully sent. */
  private deltaResumeId: NodeId = "";

  constructor(options: ExchangeOptions, table: EndpointTable) {
    this.options = options;
    this.table = table;
  }

  /** The digests a syn's sender gets: every member, or a rotating window of them. */
  digestsFor(requester: NodeId): GossipDigests {
    const sorted = this.table.sortedIds();
    const count = sorted.length;
    const windowMax = this.options.digestsPerMessageMax;
    const complete = count <= windowMax;
    const ids: NodeId[] = [];
    if (complete) {
      ids.push(...sorted);
    } else {
      const start = this.digestCursor % count;
      for (let i = 0; i < windowMax; i++) ids.push(sorted[(start + i) % count] as NodeId);
      this.digestCursor = (start + windowMax) % count;
    }
    const digests = ids.map((id) => this.table.recordOf(id).digest());
    return {
      kind: "gossip-digests",
      from: this.options.self,
      fromAddress: this.options.address,
      digests,
      complete,
      requester: this.table.get(requester)?.digest() ?? null,
    };
  }

  /**
   * Cassandra's examineGossiper: what the digests' sender lacks (deltas) and what we lack
   * (requests).
   */
  ackFor(message: GossipDigests): GossipAck {
    const { self } = this.options;
    const candidates: DeltaCandidate[] = [];
    const requests: DigestRequest[] = [];
    const listed = new Set<NodeId>();
    for (const digest of message.digests) {
      listed.add(digest.id);
      if (digest.id === self) continue; // judged from `requester` below
      const local = this.table.get(digest.id);
      switch (compareDigest(local, digest)) {
        case "request":
          if (local === undefined && this.table.size + requests.length >= this.options.membersMax)
            break;
          requests.push(local?.digest() ?? { id: digest.id, generation: 0, maxVersion: 0 });
          break;
        case "send":
          // The sender is the authority on its own state; anything else it lacks, it gets.
          if (local !== undefined && digest.id !== message.from) {
            candidates.push(
              candidate(local, local.generation === digest.generation ? digest.maxVersion : 0),
            );
          }
          break;
        case "none":
          break;
      }
    }
    const selfRecord = this.table.recordOf(self);
    const mine = message.requester;
    if (mine === null || compareDigest(selfRecord, mine) === "send") {
      const from = mine !== null && mine.generation === selfRecord.generation ? mine.maxVersion : 0;
      candidates.push(candidate(selfRecord, from));
    }
    candidates.push(...this.unlisted(message, listed));
    return {
      kind: "gossip-ack",
      from: self,
      fromAddress: this.options.address,
      deltas: this.cutDeltas(candidates),
      requests,
    };
  }

  /** Members the sender did not list although its window covered them: it does not know them. */
  private unlisted(message: GossipDigests, listed: ReadonlySet<NodeId>): DeltaCandidate[] {
    const found: DeltaCandidate[] = [];
    const first = message.digests[0]?.id;
    const last = message.digests[message.digests.length - 1]?.id;
    if (first === undefined || last === undefined) return found;
    for (const id of this.table.ids()) {
      if (id === this.options.self || id === message.from || listed.has(id)) continue;
      if (message.complete || inCyclicRange(id, first, last))
        found.push(candidate(this.table.recordOf(id), 0));
    }
    return found;
  }

  /** The deltas an ack's requests ask for (the ACK2); never the requester's own state. */
  answerRequests(requests: readonly DigestRequest[], requester: NodeId): Delta[] {
    const candidates: DeltaCandidate[] = [];
    for (const request of requests) {
      if (request.id === requester) continue;
      const record = this.table.get(request.id);
      if (record === undefined) continue;
      if (record.generation > request.generation) {
        candidates.push(candidate(record, 0));
      } else if (
        record.generation === request.generation &&
        record.hasStatesAbove(request.maxVersion)
      ) {
        candidates.push(candidate(record, request.maxVersion));
      }
    }
    return this.cutDeltas(candidates);
  }

  /**
   * Cuts deltas for the candidates within one message's budget, in id order starting where the last
   * truncated message stopped, so that a member far down the order is reached in later rounds.
   */
  private cutDeltas(candidates: DeltaCandidate[]): Delta[] {
    if (candidates.length === 0) return [];
    candidates.sort((x, y) => (x.record.id < y.record.id ? -1 : x.record.id > y.record.id ? 1 : 0));
    let start = candidates.findIndex((c) => c.record.id >= this.deltaResumeId);
    if (start < 0) start = 0;
    const deltas: Delta[] = [];
    let bytes = 0;
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[(start + i) % candidates.length] as DeltaCandidate;
      if (deltas.length >= this.options.deltasPerMessageMax) {
        this.deltaResumeId = c.record.id;
        break;
      }
      const claim = { fromVersion: c.fromVersion, throughVersion: c.throughVersion };
      let cut = cutDelta(c.record, claim, this.options.deltaBytesPerMessageMax - bytes);
      if (cut === null && deltas.length === 0) {
        // Progress over the configured budget: one state always fits the wire bound.
        cut = cutDelta(c.record, claim, GOSSIP_LIMITS.deltaBytesPerMessageMax);
        assert(cut !== null, "one entry with one state fits deltaBytesPerMessageMax");
      }
      if (cut === null) {
        this.deltaResumeId = c.record.id;
        break;
      }
      deltas.push(cut.delta);
      bytes += cut.bytes;
      if (cut.truncated) {
        this.deltaResumeId = c.record.id;
        break;
      }
    }
    return deltas;
  }
}

function candidate(record: EndpointRecord, fromVersion: number): DeltaCandidate {
  return { record, fromVersion, throughVersion: Math.max(fromVersion, record.maxVersion) };
}
