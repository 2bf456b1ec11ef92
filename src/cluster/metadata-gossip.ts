// cluster/metadata-gossip.ts — how the cluster metadata (metadata.ts) spreads: anti-entropy pulls
// every gossip round, and a push of every local change.
//
// Theory of operation.
// - Pull, every gossip round: a node sends one live peer, chosen uniformly, its digest, its
//   largest stamp and its page cursor (metadata-syn). Equal digests end it there: agreeing nodes
//   exchange one hash per round, as membership does. Otherwise the peer answers with what the node
//   lacks: the entries stamped after the node's largest stamp (oldest first, so the node's largest
//   stamp only ever advances past entries it has), or, when there are none (the node has a newer
//   entry than some it lacks: two changes crossed), one page of all entries in key order after
//   the node's cursor; the node moves its cursor on, so successive rounds walk the whole map. Every
//   answer is bounded (METADATA_GOSSIP_LIMITS). A peer that sees the node holds a larger stamp
//   answers with its own syn too (push-pull), which cannot loop: only the strictly larger side
//   triggers it. A node that was down pulls when it returns and so catches up in a few rounds.
// - Push: a change made on this node is sent at its next tick to a few live peers (a rumor); a
//   peer it is new to forwards it once, in the same way, so a change floods the cluster in
//   O(log n) hops and the pulls repair whatever a lost message missed.
// - Who agrees: every message carries its sender's digest; the last one heard from each peer is
//   kept for `grapevine status`.
//
// Pure: the peers and the chance are given, nothing is read from a clock.

import { assert } from "../core/assert.js";
import type { Address, NodeId } from "../core/ids.js";
import { createRandom, pickOne, pickSome, type Random } from "../core/random.js";
import { hashId } from "../gossip/digest.js";
import type { Outbound } from "./engine.js";
import { ClusterMetadata, type MetadataEntry } from "./metadata.js";
import {
  estimateEntryBytes,
  METADATA_GOSSIP_LIMITS,
  type MetadataEntries,
  type MetadataMessage,
  type MetadataSyn,
} from "./metadata-messages.js";

export interface MetadataPeer {
  readonly id: NodeId;
  readonly address: Address;
}

export interface MetadataGossipOptions {
  readonly self: NodeId;
  readonly address: Address;
  readonly metadata: ClusterMetadata;
}

/** A budget for one message: entries are admitted while both bounds hold. */
function messageBudget(): (entry: MetadataEntry) => boolean {
  let count = 0;
  let bytes = 0;
  return (entry) => {
    const size = estimateEntryBytes(entry);
    if (
      count + 1 > METADATA_GOSSIP_LIMITS.entriesPerMessageMax ||
      bytes + size > METADATA_GOSSIP_LIMITS.entryBytesPerMessageMax
    )
      return false;
    count += 1;
    bytes += size;
    return true;
  };
}

export class MetadataGossip {
  private cursor: string | null = null;
  private readonly heard = new Map<NodeId, string>();
  private readonly options: MetadataGossipOptions;
  private readonly random: Random;

  constructor(options: MetadataGossipOptions, random: Random) {
    this.options = options;
    this.random = random;
  }

  get metadata(): ClusterMetadata {
    return this.options.metadata;
  }

  /** Every tick: push the local changes made since; on a gossip round, one pull. */
  tick(round: boolean, peers: () => readonly MetadataPeer[]): Outbound[] {
    const announcements = this.metadata.takeAnnouncements();
    if (announcements.length === 0 && !round) return [];
    const live = peers();
    const out: Outbound[] = announcements.length > 0 ? this.rumor(announcements, live) : [];
    const peer = round ? pickOne(this.random, live) : undefined;
    if (peer !== undefined) out.push(this.to(peer, this.syn()));
    return out;
  }

  receive(message: MetadataMessage, peers: () => readonly MetadataPeer[]): Outbound[] {
    const sender: MetadataPeer = { id: message.from, address: message.fromAddress };
    if (message.kind === "metadata-syn") return this.answerSyn(message, sender);
    this.heard.set(message.from, message.digest);
    const fresh = message.entries.filter((entry) => this.metadata.merge(entry));
    if (message.next !== undefined) this.cursor = message.next;
    // Forward a rumor once, to peers other than its sender.
    if (!message.rumor || fresh.length === 0) return [];
    const others = peers().filter((peer) => peer.id !== message.from);
    return this.rumor(fresh, others);
  }

  /** The digest last heard from each peer (absent: none heard yet). */
  heardDigests(): ReadonlyMap<NodeId, string> {
    return this.heard;
  }

  private answerSyn(syn: MetadataSyn, sender: MetadataPeer): Outbound[] {
    this.heard.set(syn.from, syn.digest);
    const { metadata } = this;
    if (syn.digest === metadata.digest()) return [];
    const out: Outbound[] = [];
    const newer = metadata.newerThan(syn.maxStampUs, messageBudget());
    if (newer.length > 0) {
      out.push(this.to(sender, this.entries(newer, false)));
    } else {
      const page = metadata.pageAfter(syn.cursor, messageBudget());
      out.push(this.to(sender, { ...this.entries(page.entries, false), next: page.next }));
    }
    if (syn.maxStampUs > metadata.maxStampUs()) out.push(this.to(sender, this.syn()));
    return out;
  }

  private rumor(entries: readonly MetadataEntry[], peers: readonly MetadataPeer[]): Outbound[] {
    const targets = pickSome(this.random, peers, METADATA_GOSSIP_LIMITS.rumorFanout);
    const out: Outbound[] = [];
    // A burst of changes larger than a message goes as several.
    for (let at = 0; at < entries.length;) {
      const fits = messageBudget();
      const batch: MetadataEntry[] = [];
      while (at < entries.length && fits(entries[at] as MetadataEntry)) {
        batch.push(entries[at] as MetadataEntry);
        at += 1;
      }
      assert(batch.length > 0, "a metadata entry always fits an empty message");
      for (const peer of targets) out.push(this.to(peer, this.entries(batch, true)));
    }
    return out;
  }

  private syn(): MetadataSyn {
    const { self, address } = this.options;
    return {
      kind: "metadata-syn",
      from: self,
      fromAddress: address,
      digest: this.metadata.digest(),
      maxStampUs: this.metadata.maxStampUs(),
      cursor: this.cursor,
    };
  }

  private entries(entries: readonly MetadataEntry[], rumor: boolean): MetadataEntries {
    const { self, address } = this.options;
    return {
      kind: "metadata-entries",
      from: self,
      fromAddress: address,
      entries: [...entries],
      rumor,
      digest: this.metadata.digest(),
    };
  }

  private to(peer: MetadataPeer, message: MetadataMessage): Outbound {
    return { to: peer.id, address: peer.address, message };
  }
}

/**
 * The exchange of an engine's options, or null when the node gave no metadata. Its chance is its
 * own stream, seeded from the node id, so gossip's draws are the same with or without it.
 */
export function metadataGossipOf(options: {
  readonly id: NodeId;
  readonly address: Address;
  readonly metadata?: ClusterMetadata;
}): MetadataGossip | null {
  const { id, address, metadata } = options;
  if (metadata === undefined) return null;
  return new MetadataGossip({ self: id, address, metadata }, createRandom(hashId(id).a));
}
