// Free TCP ports on 127.0.0.1 for tests that start real nodes. A port is found by binding port 0
// (the kernel picks an unused one) and releasing it; the small window before the node binds it
// again is the accepted race. Ports handed out by this process are remembered so two calls never
// collide.

import net from "node:net";

const handedOut = new Set<number>();

/** Binds `port` on 127.0.0.1 and releases it; resolves with the port that was bound, or null. */
function tryBind(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once("error", () => resolve(null));
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === "object" && address !== null ? address.port : null;
      server.close(() => resolve(bound));
    });
  });
}

/** One free port not handed out before by this process. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await tryBind(0);
    if (port !== null && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error("no free port found in 100 attempts");
}

export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(await freePort());
  return ports;
}

/**
 * `count` consecutive free ports (for `grapevine dev --base-port`), picked at random in a high
 * range below the kernel's ephemeral range (32768+ on Linux), each checked by binding it.
 */
export async function freePortRange(count: number): Promise<number> {
  const low = 20_000;
  const high = 32_000 - count;
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = low + Math.floor(Math.random() * (high - low));
    let ok = true;
    for (let port = base; port < base + count && ok; port++) {
      ok = !handedOut.has(port) && (await tryBind(port)) === port;
    }
    if (ok) {
      for (let port = base; port < base + count; port++) handedOut.add(port);
      return base;
    }
  }
  throw new Error(`no range of ${count} free ports found in 200 attempts`);
}
