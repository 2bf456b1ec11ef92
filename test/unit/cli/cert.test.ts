import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Command, CommanderError } from "commander";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { registerCertCommand } from "../../../src/cli/cert.js";
import { formatCertList, certWarnings } from "../../../src/cli/cert-list.js";
import { EXIT_CODES, reportFailure, type ExitCode } from "../../../src/cli/shared.js";
import { expiryOf } from "../../../src/security/expiry.js";

interface Run {
  readonly code: ExitCode;
  readonly out: string;
  readonly err: string;
}

/** `grapevine cert …` in process, with main.ts's handling of commander's and commands' errors. */
async function grapevine(...args: string[]): Promise<Run> {
  let out = "";
  let err = "";
  const output = { out: (text: string) => (out += text), err: (text: string) => (err += text) };
  let code: ExitCode = EXIT_CODES.ok;
  const program = new Command("grapevine")
    .exitOverride()
    .configureOutput({ writeOut: output.out, writeErr: output.err, outputError: () => undefined });
  registerCertCommand(program, output, (exit) => (code = exit));
  try {
    await program.parseAsync(["node", "grapevine", "cert", ...args]);
  } catch (error) {
    if (!(error instanceof CommanderError)) code = reportFailure(output, error);
    else {
      output.err(`grapevine: ${error.message.replace(/^error: /, "")}\n`);
      code = EXIT_CODES.usage;
    }
  }
  return { code, out, err };
}

let dir: string;
let certs: string;
let caKey: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "grapevine-certs-"));
  certs = path.join(dir, "certs");
  caKey = path.join(dir, "safe", "ca.key");
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const mode = async (file: string): Promise<number> => (await stat(file)).mode & 0o777;
const where = (): string[] => ["--certs-dir", certs, "--ca-key", caKey];

function oneErrorLine(run: Run): void {
  expect(run.err).toMatch(/^grapevine: [^\n]+\n$/);
}

describe("grapevine cert", () => {
  it("lays out a certs dir as CockroachDB does, keys 0600, the CA key apart", async () => {
    expect((await grapevine("create-ca", ...where())).code).toBe(0);
    const node = await grapevine(
      "create-node",
      "--id",
      "n1",
      "--host",
      "localhost,10.0.0.1",
      ...where(),
    );
    expect(node.code).toBe(0);
    const client = await grapevine("create-client", "alice", "--role", "reader", ...where());
    expect(client).toMatchObject({ code: 0, err: "" });
    expect(client.out).toContain("client.alice.crt");
    for (const key of [caKey, path.join(certs, "node.key"), path.join(certs, "client.alice.key")])
      expect(await mode(key)).toBe(0o600);
    expect(await mode(path.join(certs, "node.crt"))).toBe(0o644);
    const ca = new X509Certificate(await readFile(path.join(certs, "ca.crt")));
    const cert = new X509Certificate(await readFile(path.join(certs, "node.crt")));
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkIP("10.0.0.1")).toBe("10.0.0.1");
  });

  it("refuses to overwrite a file unless told to", async () => {
    await grapevine("create-ca", ...where());
    const before = await readFile(path.join(certs, "ca.crt"), "utf8");
    const again = await grapevine("create-ca", ...where());
    expect(again.code).toBe(EXIT_CODES.failed);
    expect(again.err).toMatch(/ca\.crt already exists; pass --overwrite/);
    oneErrorLine(again);
    expect(await readFile(path.join(certs, "ca.crt"), "utf8")).toBe(before);
    expect((await grapevine("create-ca", ...where(), "--overwrite")).code).toBe(0);
    expect(await readFile(path.join(certs, "ca.crt"), "utf8")).not.toBe(before);
  });

  it("answers bad input with one line and a non-zero exit", async () => {
    const cases: [string[], ExitCode, RegExp][] = [
      [["create-node", "--host", "localhost", ...where()], 2, /--id/],
      [["create-node", "--id", "n1", "--host", "a:7001", ...where()], 2, /--host/],
      [["create-client", "bob", "--role", "root", ...where()], 2, /--role must be one of/],
      [["create-client", "bob", "--role", "admin", "--certs-dir", certs], 2, /--ca-key/],
      [["create-node", "--id", "n1", "--host", "localhost", ...where()], 1, /no CA certificate/],
      [["create-ca", ...where(), "--lifetime", "10y"], 2, /--lifetime must be/],
    ];
    for (const [args, code, message] of cases) {
      const run = await grapevine(...args);
      expect(run.code, args.join(" ")).toBe(code);
      expect(run.err).toMatch(message);
      oneErrorLine(run);
    }
  });

  it("names the CA's files when its key is not its key, or not a key", async () => {
    await grapevine("create-ca", ...where());
    const otherKey = path.join(dir, "other", "ca.key");
    await grapevine("create-ca", "--certs-dir", path.join(dir, "other"), "--ca-key", otherKey);
    const host = ["--id", "n1", "--host", "localhost", "--certs-dir", certs, "--ca-key"];
    const mixed = await grapevine("create-node", ...host, otherKey);
    expect(mixed.code).toBe(EXIT_CODES.failed);
    expect(mixed.err).toMatch(/the CA key does not belong to the CA certificate \(.*ca\.crt, /);
    oneErrorLine(mixed);
    const notKey = await grapevine("create-node", ...host, path.join(certs, "ca.crt"));
    expect(notKey.err).toMatch(/the CA's key is not readable PEM/);
    oneErrorLine(notKey);
  });

  it("lists subjects, roles, hosts and expiry, and warns of a certificate near its end", async () => {
    await grapevine("create-ca", ...where());
    await grapevine("create-node", "--id", "n1", "--host", "localhost", ...where());
    await grapevine("create-client", "alice", "--role", "admin", ...where(), "--lifetime", "10d");
    await writeFile(path.join(certs, "junk.crt"), "not a certificate\n");
    const list = await grapevine("list", "--certs-dir", certs);
    expect(list.code).toBe(0);
    const lines = list.out.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^FILE\s+KIND\s+CN\s+ROLE\s+HOSTS\s+EXPIRES\s+DAYS LEFT\s+STATUS$/);
    expect(lines[1]).toMatch(/^ca\.crt\s+ca\s+Grapevine CA\s+-\s+-\s+\S+Z\s+36\d\d\s+ok$/);
    expect(lines[2]).toMatch(
      /^client\.alice\.crt\s+client\s+alice\s+admin\s+-\s+\S+\s+9\s+NEAR EXPIRY$/,
    );
    expect(lines[3]).toMatch(/^junk\.crt\s.*UNREADABLE$/);
    expect(lines[4]).toMatch(/^node\.crt\s+node\s+n1\s+-\s+localhost\s+\S+\s+18\d\d\s+ok$/);
    expect(list.err).toMatch(/warning: client\.alice\.crt expires in 9 days \(fewer than 30\)/);
    expect(list.err).toMatch(/warning: junk\.crt is not a certificate/);
  });

  it("flags an expired certificate", () => {
    const now = new Date("2030-01-01T00:00:00Z");
    const notAfter = new Date("2029-12-31T00:00:00Z");
    const entry = {
      file: "node.crt",
      description: {
        kind: "node" as const,
        subject: "CN=n1",
        commonName: "n1",
        role: undefined,
        hosts: ["h"],
        issuer: "CN=ca",
        notBefore: notAfter,
        notAfter,
        expiry: expiryOf(notAfter, now),
      },
    };
    expect(formatCertList([entry])).toMatch(
      /node\.crt\s+node\s+n1\s+-\s+h\s+\S+\s+-1\s+EXPIRED\n$/,
    );
    expect(certWarnings([entry])).toEqual(["node.crt has expired (2029-12-31T00:00:00.000Z)"]);
  });
});
