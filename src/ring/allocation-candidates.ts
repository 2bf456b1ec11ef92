// ring/allocation-candidates.ts — where the token allocator (balanced-tokens.ts) may put its next
// token, and a cheap local score to rank those places before the whole objective decides.
//
// Candidates. In every range with a part in an arc where the newcomer has no token yet, a token may
// go at 1/4, 1/2 or 3/4 of it or where the newcomer's part is 0.5–1.5 times its quota (primary
// share still needed / tokens still to place), each moved inside the arc if it falls outside, or at
// the middle of the range's part in the arc; the newcomer takes (start, token] and the owner keeps
// (token, end]. A candidate is scored by its change to the objective (allocation-objective.ts),
// computed locally: the newcomer's part moves primary from the owner and makes the newcomer a
// replica of it in place of its last replica; each range just before it whose replica walk reaches
// it before finding rf owners now meets the newcomer first, displacing that walk's last replica.
// The best few by that score are then compared by the whole objective, which alone sees the removal
// term.

import {
  distinctOwnersAfter,
  distinctOwnersBefore,
  distinctOwnersFrom,
  RING,
  type Allocation,
  type Split,
  type WorkRing,
} from "./allocation-ring.js";
import {
  cost,
  NEIGHBOUR_WEIGHT,
  neighbourCounts,
  PRIMARY_WEIGHT,
  RANGE_WEIGHT,
  shares,
} from "./allocation-objective.js";

/**
 * Where in a range a candidate token may go, as a fraction of the range: the newcomer takes
 * (start, start + fraction × width]. With the quota points (below) this is Cassandra's choice of a
 * few split points per range; finer steps were not tried.
 */
const CANDIDATE_FRACTIONS = [0.25, 0.5, 0.75] as const;

/**
 * Newcomer shares tried in each range, as multiples of its quota (what it still needs per token).
 */
const QUOTA_MULTIPLES = [0.5, 0.75, 1, 1.25, 1.5] as const;

/**
 * How far inside its arc a token is kept, as a share of the ring (1.8e10 tokens): far wider than
 * the rounding of a double share into a bigint token (~2^11 tokens), so a token never lands in the
 * arc next to the one it was chosen for.
 */
const ARC_EDGE_MARGIN = 1e-9;

/** Ranges narrower than this many tokens are not split (a token must fall strictly inside). */
const MIN_SPLIT_WIDTH = 4;

/** One candidate's effect on a member's shares. */
interface Change {
  member: number;
  primary: number;
  replicated: number;
}

function addChange(changes: Change[], member: number, primary: number, replicated: number): void {
  const existing = changes.find((change) => change.member === member);
  if (existing === undefined) changes.push({ member, primary, replicated });
  else {
    existing.primary += primary;
    existing.replicated += replicated;
  }
}

/**
 * The part of a range that lies in a free arc, as (lo, hi) of the share the newcomer would take.
 */
interface Window {
  readonly arc: number;
  readonly lo: number;
  readonly hi: number;
}

/** What ranking a range's candidates needs of the ring as it stands: computed once per search. */
interface Scoring {
  readonly allocation: Allocation;
  readonly primary: Float64Array;
  readonly replicated: Float64Array;
  /** The newcomer's primary share still to take, spread over the tokens still to place. */
  readonly quota: number;
  readonly neighbours: { before: Int32Array; after: Int32Array };
  readonly freeArcs: readonly boolean[];
}

/**
 * The best places for one more newcomer token in an arc where it has none yet (`freeArcs`), at most
 * `keep` of them, best first, or none. Gain is the drop of the objective; it may be negative when
 * every place makes things worse, and the token must go somewhere all the same.
 */
export function bestSplits(
  allocation: Allocation,
  tokensLeft: number,
  freeArcs: readonly boolean[],
  keep: number,
): Split[] {
  const { primary, replicated } = shares(allocation.work, allocation.members, allocation.replicas);
  const quota =
    Math.max(0, allocation.primaryEven - (primary[allocation.newcomer] as number)) / tokensLeft;
  const scoring: Scoring = {
    allocation,
    primary,
    replicated,
    quota,
    neighbours: neighbourCounts(allocation),
    freeArcs,
  };
  // The `keep` best so far, best first: a short list, so insertion is cheap.
  const best: Split[] = [];
  const offer = (candidate: Split): void => {
    if (best.length === keep && candidate.gain <= (best[keep - 1] as Split).gain) return;
    let at = best.length;
    while (at > 0 && (best[at - 1] as Split).gain < candidate.gain) at--;
    best.splice(at, 0, candidate);
    if (best.length > keep) best.pop();
  };
  for (let split = 0; split < allocation.work.owners.length; split++)
    offerRange(scoring, split, offer);
  return best;
}

/** Offers every candidate place in range `split`. */
function offerRange(scoring: Scoring, split: number, offer: (candidate: Split) => void): void {
  const { work, newcomer, replicas, rangeEven } = scoring.allocation;
  const owner = work.owners[split] as number;
  const width = work.widths[split] as number;
  // Ranges too narrow to hold a token inside are not split.
  if (width * RING < MIN_SPLIT_WIDTH) return;
  const windows = freeWindows(work, split, width, scoring.freeArcs);
  if (windows.length === 0) return;
  if (owner === newcomer) {
    // Splitting its own range changes nobody's share: a neutral place, for an arc that the
    // newcomer's range covers whole (a stretch of an old ring with no other token in it).
    const window = windows[0] as Window;
    const taken = (window.lo + window.hi) / 2;
    offer({ range: split, taken, arc: window.arc, gain: widthGain(width, taken, rangeEven) });
    return;
  }
  const ahead = distinctOwnersFrom(work, split, 2 * replicas);
  const fixed = walkChanges(scoring.allocation, split, ahead);
  const repeats = neighbourRepeats(scoring, split);
  // This range: the newcomer's part (start, token] moves its primary from the owner, and the
  // newcomer becomes a replica of it in place of the last one (unless it already was one). On a
  // ring with fewer members than replicas the walk from the owner's part laps round to the
  // newcomer.
  const current = ahead.slice(0, replicas);
  const already = current.includes(newcomer);
  const full = current.length === replicas;
  const wanted: number[] = CANDIDATE_FRACTIONS.map((fraction) => fraction * width);
  for (const multiple of QUOTA_MULTIPLES)
    if (scoring.quota > 0) wanted.push(scoring.quota * multiple);
  for (const window of windows) {
    // Each wanted share, moved into this window if it falls outside, and the window's middle.
    const takens = wanted.map((taken) => Math.min(window.hi, Math.max(window.lo, taken)));
    takens.push((window.lo + window.hi) / 2);
    for (const taken of takens) {
      const changes = fixed.map((change) => ({ ...change }));
      addChange(changes, owner, -taken, 0);
      addChange(changes, newcomer, taken, already ? 0 : full ? taken : width);
      if (!already && full) addChange(changes, current[replicas - 1] as number, 0, -taken);
      offer({
        range: split,
        taken,
        arc: window.arc,
        gain: splitGain(scoring, changes, width, taken, repeats),
      });
    }
  }
}

/**
 * The parts of range `split` that lie in a free arc: where a token may go, as (lo, hi) of the share
 * taken. The walk is over unwrapped arc numbers, so a range across the wrap works too.
 */
function freeWindows(
  work: WorkRing,
  split: number,
  width: number,
  freeArcs: readonly boolean[],
): Window[] {
  const arcs = freeArcs.length;
  const size = work.owners.length;
  const startPosition = Number(work.tokens[(split - 1 + size) % size]) / RING;
  const windows: Window[] = [];
  const lastArc = Math.floor((startPosition + width) * arcs);
  for (let unwrapped = Math.floor(startPosition * arcs); unwrapped <= lastArc; unwrapped++) {
    const arc = unwrapped % arcs;
    if (!freeArcs[arc]) continue;
    const lo = Math.max(0, unwrapped / arcs - startPosition) + ARC_EDGE_MARGIN;
    const hi = Math.min(width, (unwrapped + 1) / arcs - startPosition) - ARC_EDGE_MARGIN;
    if (hi > lo) windows.push({ arc, lo, hi });
  }
  return windows;
}

/**
 * Changes that do not depend on where in range `split` the token goes: each range before it whose
 * replica walk reaches it before finding `replicas` owners now meets the newcomer first, which
 * displaces the last replica it had (unless the newcomer was already among them). `ahead` is the
 * walk of 2·replicas distinct owners from `split`.
 */
function walkChanges(allocation: Allocation, split: number, ahead: readonly number[]): Change[] {
  const { work, newcomer, replicas } = allocation;
  const size = work.owners.length;
  const fixed: Change[] = [];
  const behind: number[] = [];
  for (let back = 1; back < size; back++) {
    const range = (split - back + size) % size;
    const rangeOwner = work.owners[range] as number;
    if (!behind.includes(rangeOwner)) behind.push(rangeOwner);
    if (behind.length >= replicas) break;
    if (behind.includes(newcomer)) continue;
    const completion = ahead
      .filter((member) => !behind.includes(member))
      .slice(0, replicas - behind.length);
    if (completion.includes(newcomer)) continue;
    const share = work.widths[range] as number;
    addChange(fixed, newcomer, 0, share);
    if (completion.length === replicas - behind.length)
      addChange(fixed, completion[completion.length - 1] as number, 0, -share);
  }
  return fixed;
}

/** Repeating a neighbour: each further newcomer token beside the same member adds 2c + 1 to c². */
function neighbourRepeats(scoring: Scoring, split: number): number {
  const { work, replicas, newcomer } = scoring.allocation;
  const { neighbours } = scoring;
  let repeats = 0;
  for (const member of distinctOwnersBefore(work, split, replicas, newcomer))
    repeats += 2 * (neighbours.before[member] as number) + 1;
  for (const member of distinctOwnersAfter(work, split, replicas, newcomer))
    repeats += 2 * (neighbours.after[member] as number) + 1;
  return repeats;
}

/** Splitting a wide range near its middle evens range widths; a sliver off one does not. */
function widthGain(width: number, taken: number, rangeEven: number): number {
  return (
    RANGE_WEIGHT *
    (cost(width, rangeEven) - cost(taken, rangeEven) - cost(width - taken, rangeEven))
  );
}

/**
 * The drop of the objective, without its removal term, if the newcomer takes `taken` of a range.
 */
function splitGain(
  scoring: Scoring,
  changes: readonly Change[],
  width: number,
  taken: number,
  repeats: number,
): number {
  const { primaryEven, replicatedEven, rangeEven } = scoring.allocation;
  const { primary, replicated } = scoring;
  let gain = widthGain(width, taken, rangeEven) - NEIGHBOUR_WEIGHT * repeats;
  for (const change of changes) {
    const oldPrimary = primary[change.member] as number;
    const oldReplicated = replicated[change.member] as number;
    gain +=
      PRIMARY_WEIGHT *
      (cost(oldPrimary, primaryEven) - cost(oldPrimary + change.primary, primaryEven));
    gain +=
      cost(oldReplicated, replicatedEven) - cost(oldReplicated + change.replicated, replicatedEven);
  }
  return gain;
}
