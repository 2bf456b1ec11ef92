// node/build-storage.ts — the first steps of a start: the node's identity (which also takes this
// start's generation), then its store and hints. Each failure becomes a NodeStartError naming the
// cause, and a store opened before a later failure is closed, so a failed start leaves nothing
// open.

import { dataDirStateFiles } from "../storage/atomic-file.js";
import type { HintStore } from "../storage/hints.js";
import { openLevelStore, type LevelStore } from "../storage/store.js";
import type { NodeConfig } from "./config.js";
import { IdentityError, openIdentity, type NodeIdentity } from "./identity.js";
import { randomOf, type NodeDeps } from "./node-ports.js";
import { describeDataDirError, NodeStartError } from "./start-errors.js";
import { readBootId } from "./boot-id.js";
import { CrashRecovery } from "./crash-recovery.js";
import type { Logger } from "./logger.js";

export async function openNodeIdentity(
  config: NodeConfig,
  ports: NodeDeps,
  wallUs: () => number,
): Promise<NodeIdentity> {
  try {
    return await openIdentity({
      dataDir: config.dataDir,
      id: config.id,
      idExplicit: config.idExplicit,
      vnodes: config.vnodes,
      nowMs: Math.floor(wallUs() / 1000),
      random: randomOf(ports, "tokens"),
      ...(ports.stateFiles === undefined ? {} : { files: ports.stateFiles }),
    });
  } catch (error) {
    if (error instanceof IdentityError) throw new NodeStartError(error.message);
    throw new NodeStartError(describeDataDirError(config.dataDir, error));
  }
}

export interface NodeStorage {
  readonly store: LevelStore;
  readonly hints: HintStore;
  /** The fallback copies this node holds for down primaries (replication/fallback-copies.ts). */
  readonly fallbackHints: HintStore;
}

export async function openNodeStorage(config: NodeConfig, ports: NodeDeps): Promise<NodeStorage> {
  let store: LevelStore;
  try {
    store = await openLevelStore(
      { dataDir: config.dataDir, sync: config.sync },
      {
        ...(ports.openDatabase === undefined ? {} : { openDatabase: ports.openDatabase }),
        ...(ports.onStoreApply === undefined ? {} : { onApply: ports.onStoreApply }),
      },
    );
  } catch (error) {
    throw new NodeStartError(
      error instanceof Error ? error.message : describeDataDirError(config.dataDir, error),
    );
  }
  try {
    const limits =
      ports.hintBytesPerTargetMax === undefined
        ? {}
        : { hintBytesPerTargetMax: ports.hintBytesPerTargetMax };
    const hints = await store.openHints(limits);
    // The total bound (--fallback-bytes-max) is FallbackCopies'; per primary it may take it all.
    const fallbackHints = await store.openFallbacks({
      hintBytesPerTargetMax: Math.max(1, config.fallbackBytesMax),
    });
    return { store, hints, fallbackHints };
  } catch (error) {
    await store.close().catch(() => undefined);
    throw new NodeStartError(
      `cannot read the hints in ${config.dataDir}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/** After the store: whether the last run may have lost acknowledged writes (run-record.ts). */
export function openCrashRecovery(
  config: NodeConfig,
  ports: NodeDeps,
  log: Logger,
): Promise<CrashRecovery> {
  return CrashRecovery.open({
    files: ports.stateFiles ?? dataDirStateFiles(config.dataDir),
    log: log.child({ component: "crash-recovery" }),
    bootId: (ports.bootId ?? readBootId)(),
    sync: config.sync,
  });
}
