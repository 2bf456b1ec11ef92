import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  CONFIG_DEFAULTS,
  ConfigError,
  DEFAULT_NODE_URL,
  deriveNodeId,
  envName,
  NODE_OPTION_NAMES,
  parseNodeConfig,
  resolveNodeUrl,
  type NodeOptionName,
} from "../../../src/node/config.js";

/** One invalid value per option: every option must have one, so a new option cannot skip the check. */
const INVALID: Readonly<Record<NodeOptionName, string>> = {
  id: "-starts-with-a-dash",
  listen: "no-port-here",
  advertise: "127.0.0.1:0",
  seeds: "127.0.0.1:7001,not an address",
  "data-dir": "   ",
  "replication-factor": "0",
  vnodes: "0",
  "read-consistency": "most",
  "write-consistency": "4",
  "request-timeout-ms": "0",
  "max-clock-offset-ms": "5",
  "gossip-interval-ms": "5",
  "phi-threshold": "-1",
  "hinted-handoff": "maybe",
  "hint-window-s": "-1",
  "anti-entropy-interval-s": "never",
  "stream-bytes-per-s": "0",
  "streams-max": "1000",
  "max-value-bytes": "1.5",
  "cluster-secret": "s".repeat(1025),
  sync: "sometimes",
  "log-level": "loud",
};

function configErrorOf(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError, but parsing succeeded");
}

describe("parseNodeConfig", () => {
  it("has an invalid example for every node option", () => {
    expect(Object.keys(INVALID).sort()).toEqual([...NODE_OPTION_NAMES].sort());
  });

  for (const option of NODE_OPTION_NAMES) {
    it(`names --${option} when its flag is invalid`, () => {
      const error = configErrorOf(() => parseNodeConfig({ [option]: INVALID[option] }, {}));
      expect(error.option).toBe(`--${option}`);
      expect(error.message).toContain(`--${option}`);
      expect(error.message).not.toContain("\n");
    });

    it(`names ${envName(option)} when its environment variable is invalid`, () => {
      const error = configErrorOf(() => parseNodeConfig({}, { [envName(option)]: INVALID[option] }));
      expect(error.option).toBe(envName(option));
      expect(error.message).toContain(envName(option));
    });
  }

  it("never echoes the cluster secret in its error", () => {
    const secret = "x".repeat(2000);
    const error = configErrorOf(() => parseNodeConfig({ "cluster-secret": secret }, {}));
    expect(error.message).not.toContain("xxxx");
  });

  it("takes a flag over the environment, and the environment over the default", () => {
    const env = { GRAPEVINE_VNODES: "12", GRAPEVINE_GOSSIP_INTERVAL_MS: "250" };
    const both = parseNodeConfig({ vnodes: "8" }, env);
    expect(both.vnodes).toBe(8);
    expect(both.gossipIntervalMs).toBe(250);
    expect(parseNodeConfig({}, {}).vnodes).toBe(CONFIG_DEFAULTS.vnodes);
  });

  it("does not consult the environment for an option whose flag is given, even if the variable is invalid", () => {
    expect(parseNodeConfig({ vnodes: "8" }, { GRAPEVINE_VNODES: "zero" }).vnodes).toBe(8);
  });

  it("treats an empty environment variable as unset", () => {
    expect(parseNodeConfig({}, { GRAPEVINE_VNODES: "" }).vnodes).toBe(16);
  });

  it("uses the defaults of SPEC §1", () => {
    const config = parseNodeConfig({}, {});
    expect(config).toMatchObject({
      listen: "127.0.0.1:7001",
      listenHost: "127.0.0.1",
      listenPort: 7001,
      advertise: "127.0.0.1:7001",
      seeds: [],
      replicationFactor: 3,
      vnodes: 16,
      readConsistency: "quorum",
      writeConsistency: "quorum",
      requestTimeoutMs: 2000,
      maxClockOffsetMs: 500,
      gossipIntervalMs: 1000,
      phiThreshold: 8,
      hintedHandoff: true,
      hintWindowS: 10800,
      antiEntropyIntervalS: 600,
      maxValueBytes: 1048576,
      clusterSecret: null,
      sync: false,
      logLevel: "info",
    });
    expect(config.dataDir).toBe(path.resolve("data", config.id));
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("derives a stable, valid id from the advertise address when none is given", () => {
    const config = parseNodeConfig({ listen: "0.0.0.0:7005", advertise: "db-3.internal:7005" }, {});
    expect(config.id).toBe("node-db-3-internal-7005");
    expect(config.id).toBe(deriveNodeId("db-3.internal:7005"));
    expect(config.idExplicit).toBe(false);
    // The derived id passes the same validation as an explicit one.
    expect(parseNodeConfig({ id: config.id }, {}).idExplicit).toBe(true);
  });

  it("defaults the advertise address to the listen address", () => {
    const config = parseNodeConfig({ listen: "127.0.0.1:7123" }, {});
    expect(config.advertise).toBe("127.0.0.1:7123");
    expect(config.id).toBe("node-127-0-0-1-7123");
  });

  it("parses the on/off, off and list forms", () => {
    const config = parseNodeConfig(
      {
        seeds: " 127.0.0.1:7001, 127.0.0.1:7002,127.0.0.1:7001 ",
        "hinted-handoff": "off",
        sync: "on",
        "anti-entropy-interval-s": "off",
        "read-consistency": "2",
        "write-consistency": "ALL",
        "log-level": "debug",
      },
      {},
    );
    expect(config.seeds).toEqual(["127.0.0.1:7001", "127.0.0.1:7002"]);
    expect(config.hintedHandoff).toBe(false);
    expect(config.sync).toBe(true);
    expect(config.antiEntropyIntervalS).toBeNull();
    expect(config.readConsistency).toBe(2);
    expect(config.writeConsistency).toBe("all");
    expect(config.logLevel).toBe("debug");
  });

  it("accepts a bracketed IPv6 listen address", () => {
    const config = parseNodeConfig({ listen: "[::1]:7001" }, {});
    expect(config.listenHost).toBe("[::1]");
    expect(config.listenPort).toBe(7001);
  });
});

describe("resolveNodeUrl", () => {
  it("takes --node over GRAPEVINE_NODE over the default", () => {
    expect(resolveNodeUrl("http://10.0.0.1:7005", { GRAPEVINE_NODE: "http://10.0.0.2:7005" })).toBe("http://10.0.0.1:7005");
    expect(resolveNodeUrl(undefined, { GRAPEVINE_NODE: "http://10.0.0.2:7005" })).toBe("http://10.0.0.2:7005");
    expect(resolveNodeUrl(undefined, {})).toBe(DEFAULT_NODE_URL);
  });

  it("accepts a bare HOST:PORT and refuses other schemes, naming where the value came from", () => {
    expect(resolveNodeUrl("127.0.0.1:7002", {})).toBe("http://127.0.0.1:7002");
    expect(configErrorOf(() => resolveNodeUrl("ftp://x:1", {})).option).toBe("--node");
    expect(configErrorOf(() => resolveNodeUrl(undefined, { GRAPEVINE_NODE: "ftp://x:1" })).option).toBe("GRAPEVINE_NODE");
  });
});
