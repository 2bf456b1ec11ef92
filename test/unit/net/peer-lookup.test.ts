import { describe, expect, it } from "vitest";
import type { LookupAddress } from "node:dns";
import { PeerLookup } from "../../../src/net/peer-lookup.js";

function lookupAll(peer: PeerLookup, hostname: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => {
    peer.lookup(hostname, { all: true }, (error, addresses) =>
      error ? reject(error) : resolve(addresses as LookupAddress[]),
    );
  });
}

describe("peer lookup", () => {
  it("gives IP literals and localhost back without asking DNS", async () => {
    const peer = new PeerLookup();
    expect(await lookupAll(peer, "127.0.0.1")).toEqual([{ address: "127.0.0.1", family: 4 }]);
    const local = await lookupAll(peer, "localhost");
    expect(local.some((entry) => entry.address === "127.0.0.1" || entry.address === "::1")).toBe(
      true,
    );
    peer.close();
  });

  it("answers the single-address form too", async () => {
    const peer = new PeerLookup();
    const address = await new Promise<string>((resolve, reject) => {
      peer.lookup("127.0.0.1", {}, (error, value) =>
        error ? reject(error) : resolve(value as string),
      );
    });
    expect(address).toBe("127.0.0.1");
    peer.close();
  });

  it("refuses lookups after close instead of starting one that could hold the process", async () => {
    const peer = new PeerLookup();
    peer.close();
    await expect(lookupAll(peer, "node1")).rejects.toMatchObject({ code: "ECANCELLED" });
  });
});
