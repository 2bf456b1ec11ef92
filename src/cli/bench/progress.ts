// cli/bench/progress.ts — what a person watching a bench sees on stderr: a bar while the keys
// load, then one live line for the run (phase, seconds, current ops/s, measured operations,
// errors, p99 so far). Shown when stderr is a terminal or with --progress; stdout stays clean for
// the report and `--json`. The load generator polls its counters into these callbacks, so the
// display costs nothing per operation.

import cliProgress from "cli-progress";
import type { LoadProgress, RunProgress } from "./load-generator.js";
import { isTerminal } from "../shared.js";

export interface ProgressDisplay {
  onLoadProgress(progress: LoadProgress): void;
  onRunProgress(progress: RunProgress): void;
  /** Ends whichever bar is showing. */
  finish(): void;
}

export const NO_PROGRESS: ProgressDisplay = {
  onLoadProgress: () => undefined,
  onRunProgress: () => undefined,
  finish: () => undefined,
};

const number = (value: number): string => Math.round(value).toLocaleString("en-US");
/** Same width for both phases, so the bar does not jump when the warm-up ends. */
const phaseLabel = (progress: RunProgress): string =>
  progress.phase === "warmup" ? "warm-up" : "run    ";

export function createProgressDisplay(stream: NodeJS.WriteStream): ProgressDisplay {
  const tty = isTerminal(stream);
  const common = {
    stream,
    // Off a terminal, one line per second instead of redraws, so a log file stays readable.
    noTTYOutput: !tty,
    notTTYSchedule: 1_000,
    fps: 5,
    hideCursor: tty,
    gracefulExit: false,
    clearOnComplete: false,
  };
  let load: cliProgress.SingleBar | null = null;
  let run: cliProgress.SingleBar | null = null;
  const finish = (): void => {
    load?.stop();
    run?.stop();
    load = null;
    run = null;
  };
  return {
    onLoadProgress(progress) {
      if (load === null) {
        load = new cliProgress.SingleBar(
          {
            ...common,
            format:
              "load |{bar}| {percentage}% {value}/{total} keys | {failed} errors | eta {eta_formatted}",
          },
          cliProgress.Presets.shades_classic,
        );
        load.start(progress.total, 0, { failed: 0 });
      }
      load.update(progress.written, { failed: number(progress.failed) });
    },
    onRunProgress(progress) {
      if (load !== null) {
        load.stop();
        load = null;
      }
      if (run === null) {
        run = new cliProgress.SingleBar(
          {
            ...common,
            format:
              "{phase} |{bar}| {value}/{total} s | {rate} ops/s | {completed} measured | {failed} errors | p99 {p99} ms",
          },
          cliProgress.Presets.shades_classic,
        );
        run.start(Math.ceil(progress.totalS), 0, {
          phase: phaseLabel(progress),
          rate: "0",
          completed: "0",
          failed: "0",
          p99: "0",
        });
      }
      run.update(Math.floor(progress.elapsedS), {
        phase: phaseLabel(progress),
        rate: number(progress.intervalRate),
        completed: number(progress.completed),
        failed: number(progress.failed),
        p99: progress.p99Ms.toFixed(2),
      });
    },
    finish,
  };
}
