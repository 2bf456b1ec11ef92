import path from "node:path";
import { describe, expect, expectTypeOf, it } from "vitest";
import {
  ConfigError,
  DEFAULT_NODE_URL,
  deriveNodeId,
  envName,
  NODE_OPTION_NAMES,
  parseNodeConfig,
  resolveNodeUrl,
} from "../../../src/node/config.js";
import type { EarlierValues } from "../../../src/node/option-kinds.js";
import {
  declarationOf,
  Derived,
  NODE_OPTION_KEYS,
  NODE_OPTIONS,
  optionKey,
  optionName,
  type NodeOptionName,
  type NodeOptionValues,
} from "../../../src/node/options.js";

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
  it("declares every option with at least one value it refuses", () => {
    for (const name of NODE_OPTION_NAMES)
      expect(declarationOf(name).kind.invalid.length, name).toBeGreaterThan(0);
  });

  for (const name of NODE_OPTION_NAMES) {
    const declaration = declarationOf(name);
    const key = optionKey(name);

    it(`--${name} parses its own default back to the default`, () => {
      const byDefault = parseNodeConfig({}, {})[key];
      if (declaration.default instanceof Derived) {
        // A derived default (the id, the advertise address, the data dir) is a valid value too.
        const text = declaration.kind.format(byDefault) ?? "";
        expect(parseNodeConfig({ [name]: text }, {})[key]).toEqual(byDefault);
        return;
      }
      expect(byDefault).toEqual(declaration.default);
      const text = declaration.kind.format(declaration.default);
      // An unset default (no cluster secret) has no spelling: leaving the option out is the
      // default.
      if (text === null) return;
      expect(parseNodeConfig({ [name]: text }, {})[key]).toEqual(declaration.default);
      expect(parseNodeConfig({}, { [envName(name)]: text })[key]).toEqual(declaration.default);
    });

    for (const invalid of declaration.kind.invalid) {
      const shown = invalid.length > 24 ? `${invalid.slice(0, 24)}…` : invalid;
      it(`refuses --${name} ${JSON.stringify(shown)} with one line naming the flag`, () => {
        const error = configErrorOf(() => parseNodeConfig({ [name]: invalid }, {}));
        expect(error.option).toBe(`--${name}`);
        expect(error.message).toMatch(new RegExp(`^--${name} must be `));
        expect(error.message).not.toContain("\n");
      });

      it(`refuses ${envName(name)}=${JSON.stringify(shown)} with one line naming the variable`, () => {
        const error = configErrorOf(() => parseNodeConfig({}, { [envName(name)]: invalid }));
        expect(error.option).toBe(envName(name));
        expect(error.message).toMatch(new RegExp(`^${envName(name)} must be `));
        expect(error.message).not.toContain("\n");
      });
    }
  }

  it("types the values kinds may read (EarlierValues) as the declarations do", () => {
    expectTypeOf<EarlierValues>().toEqualTypeOf<Pick<NodeOptionValues, keyof EarlierValues>>();
  });

  it("names each option's flag after its config property, and its variable after the flag", () => {
    expect(NODE_OPTION_KEYS.map(optionName)).toEqual(NODE_OPTION_NAMES);
    // The flags of SPEC §1, in the help's order: renaming a config property must not rename a flag.
    const flags = [
      "id",
      "listen",
      "advertise",
      "seeds",
      "data-dir",
      "replication-factor",
      "vnodes",
      "read-consistency",
      "write-consistency",
      "request-timeout-ms",
      "max-clock-offset-ms",
      "gossip-interval-ms",
      "phi-threshold",
      "hinted-handoff",
      "hint-before-ack",
      "sloppy-quorum",
      "fallback-bytes-max",
      "hint-window-s",
      "anti-entropy-interval-s",
      "max-value-bytes",
      "stream-bytes-per-s",
      "streams-max",
      "cluster-secret",
      "certs-dir",
      "metrics-open",
      "sync",
      "log-level",
      "log-format",
    ] as const;
    expect(NODE_OPTION_NAMES).toEqual(flags);
    // The type derived from the keys (kebab case at the type level) is the same set.
    expectTypeOf<NodeOptionName>().toEqualTypeOf<(typeof flags)[number]>();
    expect(optionName("antiEntropyIntervalS")).toBe("anti-entropy-interval-s");
    expect(envName("data-dir")).toBe("GRAPEVINE_DATA_DIR");
  });

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
    expect(parseNodeConfig({}, {}).vnodes).toBe(NODE_OPTIONS.vnodes.default);
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
      logFormat: "auto",
    });
    expect(config.dataDir).toBe(path.resolve("data", config.id));
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("takes --log-format auto, pretty or json, and refuses anything else in one line", () => {
    expect(parseNodeConfig({ "log-format": "JSON" }, {}).logFormat).toBe("json");
    expect(parseNodeConfig({}, { GRAPEVINE_LOG_FORMAT: "pretty" }).logFormat).toBe("pretty");
    const error = configErrorOf(() => parseNodeConfig({ "log-format": "yaml" }, {}));
    expect(error.message).toBe('--log-format must be one of auto, pretty, json, got "yaml"');
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
    expect(resolveNodeUrl("http://10.0.0.1:7005", { GRAPEVINE_NODE: "http://10.0.0.2:7005" })).toBe(
      "http://10.0.0.1:7005",
    );
    expect(resolveNodeUrl(undefined, { GRAPEVINE_NODE: "http://10.0.0.2:7005" })).toBe(
      "http://10.0.0.2:7005",
    );
    expect(resolveNodeUrl(undefined, {})).toBe(DEFAULT_NODE_URL);
  });

  it("accepts a bare HOST:PORT and refuses other schemes, naming where the value came from", () => {
    expect(resolveNodeUrl("127.0.0.1:7002", {})).toBe("http://127.0.0.1:7002");
    expect(configErrorOf(() => resolveNodeUrl("ftp://x:1", {})).option).toBe("--node");
    expect(
      configErrorOf(() => resolveNodeUrl(undefined, { GRAPEVINE_NODE: "ftp://x:1" })).option,
    ).toBe("GRAPEVINE_NODE");
  });
});
