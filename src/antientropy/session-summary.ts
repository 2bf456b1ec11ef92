// antientropy/session-summary.ts — what one repair session compared and moved, added up per
// session, per job and per node (repair-session.ts, the anti-entropy service, `grapevine repair`).

export interface SessionSummary {
  /** Ranges whose roots were compared. */
  rangesCompared: number;
  rangesDiffering: number;
  /** Tree nodes compared below the roots. */
  nodesCompared: number;
  /** Records sent to the peer (a dry run: that would be sent). */
  keysSent: number;
  /** Records received from the peer (a dry run: that would be received). */
  keysReceived: number;
  bytesSent: number;
  bytesReceived: number;
  roundTrips: number;
  /** Leaves holding more records than one list may carry: not repaired this time. */
  leavesSkipped: number;
}

export function emptySummary(): SessionSummary {
  return {
    rangesCompared: 0,
    rangesDiffering: 0,
    nodesCompared: 0,
    keysSent: 0,
    keysReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    roundTrips: 0,
    leavesSkipped: 0,
  };
}

/** Adds b into a. */
export function addSummary(a: SessionSummary, b: SessionSummary): void {
  for (const key of Object.keys(a) as (keyof SessionSummary)[]) a[key] += b[key];
}
