// security/x509.ts — the one door to @peculiar/x509 (a maintained X.509 library over WebCrypto),
// set to node:crypto's WebCrypto. Every other file imports the library from here, so the Reflect
// shim is always installed before the library loads (ES modules evaluate imports in order).

import "./reflect-metadata.js";
import * as x509 from "@peculiar/x509";
import { webcrypto } from "node:crypto";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509, webcrypto };
