import path from "node:path";
import { describe, expect, it } from "vitest";
import { DEV_PASS_THROUGH_OPTIONS, planDevCluster } from "../../../src/cli/dev.js";
import {
  CliError,
  EXIT_CODES,
  oneLine,
  reportFailure,
  type CliOutput,
} from "../../../src/cli/shared.js";
import { collectNodeOptions, optionAttribute, parseStartConfig } from "../../../src/cli/start.js";
import { ConfigError } from "../../../src/node/config.js";

function configErrorOf(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("grapevine start options", () => {
  it("hands commander's camel-cased values to the config under their flag names", () => {
    expect(optionAttribute("data-dir")).toBe("dataDir");
    expect(optionAttribute("anti-entropy-interval-s")).toBe("antiEntropyIntervalS");
    expect(collectNodeOptions({ dataDir: "/tmp/x", vnodes: "8", json: true })).toEqual({
      "data-dir": "/tmp/x",
      vnodes: "8",
    });
  });

  it("accepts --rf as --replication-factor", () => {
    expect(parseStartConfig({ rf: "5" }, {}).replicationFactor).toBe(5);
    expect(parseStartConfig({ rf: "5", replicationFactor: "5" }, {}).replicationFactor).toBe(5);
  });

  it("names --rf when --rf is invalid, and refuses two different values", () => {
    const invalid = configErrorOf(() => parseStartConfig({ rf: "0" }, {}));
    expect(invalid.option).toBe("--rf");
    expect(invalid.message).toMatch(/^--rf must be/);
    expect(
      configErrorOf(() => parseStartConfig({ rf: "2", replicationFactor: "3" }, {})).option,
    ).toBe("--rf");
  });
});

describe("grapevine dev plan", () => {
  it("lays out node<i> on base-port + i - 1, all seeded from node1, each with its own data dir", () => {
    const plans = planDevCluster({ nodes: "3", basePort: "9100", dataDir: "/tmp/gv" }, {});
    expect(plans.map((plan) => [plan.id, plan.url, plan.dataDir])).toEqual([
      ["node1", "http://127.0.0.1:9100", path.join("/tmp/gv", "node1")],
      ["node2", "http://127.0.0.1:9101", path.join("/tmp/gv", "node2")],
      ["node3", "http://127.0.0.1:9102", path.join("/tmp/gv", "node3")],
    ]);
    expect(plans[1]?.args).toEqual([
      "start",
      "--id",
      "node2",
      "--listen",
      "127.0.0.1:9101",
      "--seeds",
      "127.0.0.1:9100",
      "--data-dir",
      path.join("/tmp/gv", "node2"),
      "--log-format",
      "json",
    ]);
  });

  it("decides --log-format auto by dev's own stdout, since the children's is a pipe to dev", () => {
    const onTerminal = planDevCluster({ nodes: "1" }, {}, true)[0];
    expect(onTerminal?.args.join(" ")).toContain("--log-format pretty");
    expect(onTerminal?.forceColour).toBe(true);
    const piped = planDevCluster({ nodes: "1" }, {}, false)[0];
    expect(piped?.args.join(" ")).toContain("--log-format json");
    expect(piped?.forceColour).toBe(false);
    const asked = planDevCluster({ nodes: "1", logFormat: "json" }, {}, true)[0];
    expect(asked?.args.join(" ")).toContain("--log-format json");
    expect(asked?.args.filter((arg) => arg === "--log-format")).toHaveLength(1);
    const fromEnv = planDevCluster({ nodes: "1" }, { GRAPEVINE_LOG_FORMAT: "pretty" }, false)[0];
    expect(fromEnv?.args.join(" ")).toContain("--log-format pretty");
    expect(fromEnv?.forceColour).toBe(false);
  });

  it("refuses a bad --log-format before starting anything, in one line naming the flag", () => {
    const error = configErrorOf(() => planDevCluster({ logFormat: "yaml" }, {}));
    expect(error.option).toBe("--log-format");
    expect(error.message).toBe('--log-format must be one of auto, pretty, json, got "yaml"');
  });

  it("defaults to 3 nodes from port 7001 under ./data", () => {
    const plans = planDevCluster({}, {});
    expect(plans.map((plan) => plan.port)).toEqual([7001, 7002, 7003]);
    expect(plans[0]?.dataDir).toBe(path.resolve("data", "node1"));
  });

  it("passes node options through to every node", () => {
    const plans = planDevCluster({ nodes: "2", gossipIntervalMs: "200", rf: "2" }, {});
    for (const plan of plans) {
      expect(plan.args).toContain("--gossip-interval-ms");
      expect(plan.args.join(" ")).toContain("--replication-factor 2");
    }
    expect(DEV_PASS_THROUGH_OPTIONS).not.toContain("listen");
    expect(DEV_PASS_THROUGH_OPTIONS).toContain("cluster-secret");
  });

  it("refuses --nodes outside 1..64 and a --base-port whose range leaves the port space, naming the flag", () => {
    expect(configErrorOf(() => planDevCluster({ nodes: "0" }, {})).option).toBe("--nodes");
    expect(configErrorOf(() => planDevCluster({ nodes: "65" }, {})).option).toBe("--nodes");
    expect(configErrorOf(() => planDevCluster({ nodes: "three" }, {})).option).toBe("--nodes");
    expect(configErrorOf(() => planDevCluster({ basePort: "0" }, {})).option).toBe("--base-port");
    expect(configErrorOf(() => planDevCluster({ nodes: "3", basePort: "65534" }, {})).option).toBe(
      "--base-port",
    );
    expect(planDevCluster({ nodes: "3", basePort: "65533" }, {})).toHaveLength(3);
  });

  it("validates pass-through node options before starting anything", () => {
    expect(configErrorOf(() => planDevCluster({ vnodes: "0" }, {})).option).toBe("--vnodes");
    expect(configErrorOf(() => planDevCluster({}, { GRAPEVINE_PHI_THRESHOLD: "x" })).option).toBe(
      "GRAPEVINE_PHI_THRESHOLD",
    );
  });
});

describe("CLI failure reporting", () => {
  function capture(): CliOutput & { errText: () => string } {
    let err = "";
    return { out: () => undefined, err: (text) => (err += text), errText: () => err };
  }

  it("turns a ConfigError into exit 2 and one stderr line", () => {
    const output = capture();
    expect(reportFailure(output, new ConfigError("--vnodes", "--vnodes must be an integer"))).toBe(
      EXIT_CODES.usage,
    );
    expect(output.errText()).toBe("grapevine: --vnodes must be an integer\n");
  });

  it("turns a failed operation into exit 1 and one line, even from a multi-line message", () => {
    const output = capture();
    expect(reportFailure(output, new CliError("cannot reach x:\n  connection refused"))).toBe(
      EXIT_CODES.failed,
    );
    expect(output.errText()).toBe("grapevine: cannot reach x: connection refused\n");
    expect(reportFailure(output, new TypeError("boom"))).toBe(EXIT_CODES.failed);
    expect(oneLine("a\r\n\n b ")).toBe("a b");
  });
});
