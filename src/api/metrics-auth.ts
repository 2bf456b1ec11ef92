// api/metrics-auth.ts — refused client credentials (issue 18 §3), by reason: `no_credential`,
// `malformed`, `unknown`, `wrong_secret`, `revoked`, `expired`, `bad_certificate` (401s) and
// `role`, `node_certificate`, `cross_site` (403s). A rise in `wrong_secret` or
// `unknown` is someone guessing; `revoked` a client still using a token it should not.

import { Counter, type Registry } from "prom-client";
import { METRICS_PREFIX } from "./metrics-observed.js";

export type AuthRefusalCounter = (reason: string) => void;

export function registerAuthRefusals(registry: Registry): AuthRefusalCounter {
  const counter = new Counter({
    name: `${METRICS_PREFIX}auth_refusals_total`,
    help: "Client and operator requests refused for their credential (401) or role (403), by reason",
    labelNames: ["reason"],
    registers: [registry],
  });
  return (reason) => counter.inc({ reason });
}
