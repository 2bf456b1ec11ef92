// The time port. Pure modules take `nowMs` as an argument; the IO shells that drive them take a
// Clock, which the node implements with the system clock and the simulator with a virtual one.

export type Cancel = () => void;

export interface Clock {
  /** Milliseconds on a clock that never goes backwards (monotonic in the node, virtual in sim). */
  nowMs(): number;
  /** Run `task` once after `delayMs`; the returned function cancels it if it has not run. */
  schedule(delayMs: number, task: () => void): Cancel;
}
