import { describe, expect, it } from "vitest";
import {
  parseStatusBody,
  renderStatus,
  stateCode,
  type StatusMember,
} from "../../../src/cli/status.js";
import { humanBytes } from "../../../src/cli/shared.js";

function member(overrides: Partial<StatusMember>): StatusMember {
  return {
    id: "node1",
    address: "127.0.0.1:7001",
    state: "normal",
    live: true,
    phi: 0.42,
    generation: 1_700_000_000_000,
    heartbeat: 12,
    tokens: 16,
    ownership: 0.3333,
    keys: 10,
    bytes: 1536,
    ...overrides,
  };
}

describe("stateCode", () => {
  it("reads like nodetool: up/down then normal/joining/leaving", () => {
    expect(stateCode({ live: true, state: "normal" })).toBe("UN");
    expect(stateCode({ live: false, state: "normal" })).toBe("DN");
    expect(stateCode({ live: true, state: "joining" })).toBe("UJ");
    expect(stateCode({ live: true, state: "leaving" })).toBe("UL");
    expect(stateCode({ live: false, state: "left" })).toBe("DX");
    expect(stateCode({ live: true, state: "martian" })).toBe("U?");
  });
});

describe("renderStatus", () => {
  const body = {
    node: "node1",
    members: [
      member({}),
      member({
        id: "node2",
        address: "127.0.0.1:7002",
        live: false,
        phi: 12.3456,
        bytes: null,
        ownership: 0.5,
      }),
      member({ id: "node3", address: "127.0.0.1:7003", phi: null, ownership: 0.1667 }),
    ],
  };
  const lines = renderStatus(body).trimEnd().split("\n");

  it("opens with a summary of members and live members as the asked node sees them", () => {
    expect(lines[0]).toBe("Cluster: 3 members, 2 live (as seen by node1)");
  });

  it("prints one row per member with state code, id, address, load, tokens, owns, phi and generation", () => {
    const rows = lines.filter((line) => /^[UD][NJLX?]\s/.test(line));
    expect(rows).toHaveLength(3);
    expect(rows[0]?.split(/\s+/)).toEqual([
      "UN",
      "node1",
      "127.0.0.1:7001",
      "1.50",
      "KiB",
      "16",
      "33.3%",
      "0.42",
      "1700000000000",
    ]);
    expect(rows[1]?.split(/\s+/)).toEqual([
      "DN",
      "node2",
      "127.0.0.1:7002",
      "?",
      "16",
      "50.0%",
      "12.35",
      "1700000000000",
    ]);
    expect(rows[2]?.split(/\s+/)).toContain("-");
  });

  it("names the members that stopped cleanly (a gossiped shutdown), and only while they are down", () => {
    expect(renderStatus(body)).not.toMatch(/Stopped cleanly/);
    const stopped = {
      ...body,
      members: body.members.map((m) => (m.id === "node2" ? { ...m, shutdown: true } : m)),
    };
    expect(renderStatus(stopped)).toContain(
      "\nStopped cleanly (shutdown announced, tokens kept): node2\n",
    );
    const parsed = parseStatusBody(JSON.parse(JSON.stringify(stopped)));
    expect(parsed?.members.find((m) => m.id === "node2")?.shutdown).toBe(true);
  });

  it("says so when the node is still learning the ring and refuses client requests", () => {
    expect(renderStatus(body)).not.toMatch(/learning the ring/);
    const starting = renderStatus({ ...body, serving: false }).split("\n");
    expect(starting[1]).toBe(
      "node1 has just started and is still learning the ring from gossip: it refuses client requests meanwhile (503 starting)",
    );
  });

  it("writes no color codes or box drawing, so scripts can read it", () => {
    const text = renderStatus(body);
    expect(text).not.toMatch(/\u001b\[/);
    expect(text).not.toMatch(/[│─┌┐└┘]/);
  });
});

describe("parseStatusBody", () => {
  it("accepts a /cluster/status body and refuses anything else", () => {
    expect(parseStatusBody({ node: "n", members: [member({})] })?.members).toHaveLength(1);
    expect(parseStatusBody({ node: "n", members: [member({})], serving: false })?.serving).toBe(
      false,
    );
    expect(parseStatusBody({ node: "n", members: [{ id: "x" }] })).toBeNull();
    expect(parseStatusBody({ members: [] })).toBeNull();
    expect(parseStatusBody("text")).toBeNull();
  });
});

describe("humanBytes", () => {
  it("uses binary units with a few significant digits", () => {
    expect(humanBytes(0)).toBe("0 B");
    expect(humanBytes(1023)).toBe("1023 B");
    expect(humanBytes(1536)).toBe("1.50 KiB");
    expect(humanBytes(50 * 1024 * 1024)).toBe("50.0 MiB");
    expect(humanBytes(300 * 1024 ** 3)).toBe("300 GiB");
  });
});

describe("the clock in grapevine status (issue 14 §2)", () => {
  const clock = {
    inRange: false,
    maxOffsetMs: 500,
    measured: 2,
    outOfRange: 2,
    peers: [
      { id: "node1", offsetMs: -3_600_000.4, errorMs: 0.6, outOfRange: true },
      { id: "node2", offsetMs: -3_599_999.8, errorMs: 1.2, outOfRange: true },
    ],
  };

  it("says a fenced node refuses writes and lists each peer's offset", () => {
    const parsed = parseStatusBody({ node: "node3", members: [member({ id: "node3" })], clock });
    expect(parsed?.clock?.inRange).toBe(false);
    const text = renderStatus(parsed ?? { node: "", members: [] });
    expect(text).toContain("node3's clock is more than 500 ms off from most of its peers");
    expect(text).toContain("503 clock_offset");
    expect(text).toContain("node1 -3600000.4 ms ±0.6 (out of range)");
  });

  it("shows offsets without a warning while the clock is in range, and nothing for an older node's body", () => {
    const inRange = {
      ...clock,
      inRange: true,
      outOfRange: 0,
      peers: [{ id: "node1", offsetMs: 1.5, errorMs: 0.5, outOfRange: false }],
    };
    const text = renderStatus(
      parseStatusBody({ node: "node3", members: [member({ id: "node3" })], clock: inRange }) ?? {
        node: "",
        members: [],
      },
    );
    expect(text).not.toContain("clock_offset");
    expect(text).toContain("node1 +1.5 ms ±0.5");
    expect(
      renderStatus(
        parseStatusBody({ node: "node3", members: [member({ id: "node3" })] }) ?? {
          node: "",
          members: [],
        },
      ),
    ).not.toContain("Clock");
  });
});

describe("renderStatus with fallback copies (sloppy quorum)", () => {
  it("says what the node holds for down replicas, and nothing for an older node's body", () => {
    const fallbacks = { copies: 120, bytes: 12_912, bytesMax: 268_435_456 };
    const parsed = parseStatusBody({ node: "node1", members: [member({})], fallbacks });
    expect(parsed?.fallbacks).toEqual(fallbacks);
    expect(renderStatus(parsed ?? { node: "", members: [] })).toContain(
      `Fallback copies held by node1 for down replicas: 120 (${humanBytes(12_912)} of ${humanBytes(268_435_456)})`,
    );
    const older = parseStatusBody({ node: "node1", members: [member({})] });
    expect(renderStatus(older ?? { node: "", members: [] })).not.toContain("Fallback");
  });
});
