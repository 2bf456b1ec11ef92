import { describe, expect, it } from "vitest";
import { expiryWarning } from "../../../src/cli/tls-client.js";
import { CERT_EXPIRY_WARNING_DAYS } from "../../../src/security/expiry.js";

const DAY_MS = 24 * 60 * 60 * 1000;
const NOW = new Date("2026-12-05T00:00:00Z");

describe("expiryWarning (grapevine status)", () => {
  it("says nothing with more than the warning days left", () => {
    const notAfter = new Date(NOW.getTime() + (CERT_EXPIRY_WARNING_DAYS + 1) * DAY_MS);
    expect(expiryWarning(notAfter, NOW)).toBeNull();
  });

  it("warns with fewer days left, and once expired", () => {
    const soon = new Date(NOW.getTime() + 10 * DAY_MS);
    expect(expiryWarning(soon, NOW)).toMatch(/expires in 10 days/);
    const past = new Date(NOW.getTime() - DAY_MS);
    expect(expiryWarning(past, NOW)).toMatch(/expired/);
  });
});
