// api/metrics-tls.ts — the node certificate's remaining life (issue 18 §1/§2), so an alert fires
// well before a node stops being able to handshake: alert when it is below
// CERT_EXPIRY_WARNING_DAYS days (security/expiry.ts), as `grapevine status` warns.

import { Gauge, type Registry } from "prom-client";
import { METRICS_PREFIX } from "./metrics-observed.js";

export interface TlsSources {
  /** The current node certificate's notAfter, ms since the epoch (it changes on rotation). */
  certNotAfterMs(): number;
  /** Wall-clock now, ms since the epoch. */
  nowMs(): number;
}

export function registerTls(registry: Registry, tls: TlsSources): void {
  new Gauge({
    name: `${METRICS_PREFIX}tls_cert_expiry_seconds`,
    help: "Seconds until this node's certificate (node.crt of --certs-dir) expires; negative once expired",
    registers: [registry],
    collect() {
      this.set(Math.floor((tls.certNotAfterMs() - tls.nowMs()) / 1000));
    },
  });
}
