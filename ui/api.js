// api.js — every request the console makes goes through here, so that the bearer token a node
// served over TLS requires (issue 18 §3) is added in one place, with the X-Grapevine-Request header
// that marks a request as not a cross-site one. The token lives only in sessionStorage (this
// browser tab's session), never in localStorage or a cookie.

const TOKEN_KEY = "grapevine.token";
/** A node that has not answered in this long is shown unreachable; the next poll tries again. */
const REQUEST_TIMEOUT_MS = 4_000;

/** @returns {Record<string, string>} */
function authorization() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token === null || token === "" ? {} : { authorization: `Bearer ${token}` };
}

export function hasToken() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token !== null && token !== "";
}

/** @param {string | null} token */
export function setToken(token) {
  if (token === null || token === "") sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/**
 * @param {string} path  relative to the node's root, e.g. "/cluster/status"
 * @param {RequestInit} [init]
 */
async function request(path, init = {}) {
  const response = await fetch(path, {
    ...init,
    headers: { "x-grapevine-request": "grapevine-console", ...authorization(), ...init.headers },
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  if (!response.ok) {
    // Every refusal carries the SPEC §2 error body: {error, message, ...}.
    const body = await response.json().catch(() => ({}));
    const message = typeof body.message === "string" ? body.message : response.statusText;
    throw new Error(`${response.status} ${body.error ?? ""}: ${message}`);
  }
  return response;
}

/** @param {string} path */
export async function getJson(path) {
  return (await request(path)).json();
}

/** @param {string} path */
export async function getText(path) {
  return (await request(path)).text();
}

/**
 * @param {string} path
 * @param {unknown} [body]
 */
export async function postJson(path, body) {
  const init =
    body === undefined
      ? { method: "POST" }
      : {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        };
  return (await request(path, init)).json();
}
