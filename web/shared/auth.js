// Where access tokens come from.
//
// Staff (advisor, expert, interpreter, admin): signed in through their
// organisation's identity provider (OpenID Connect, `/auth/oidc/…`), they
// hold an HttpOnly session cookie this page cannot read; `POST
// /auth/session` turns it into a 15-minute access token kept in this page's
// memory only (never localStorage, never a URL), renewed before it ends. In
// `silta dev` the demo identity named by `?as=<subject>` (or picked on the
// page) gets a token from `POST /dev/token` instead.
//
// Kiosk: a long-lived device credential, provisioned once (the URL fragment
// `#credential=…`, which never reaches a server log, or the demo's
// provisioning button) and kept in localStorage; it is exchanged for
// 15-minute access tokens at `POST /v1/token/kiosk`.

const REFRESH_MARGIN_MS = 60_000;
const DEVICE_CREDENTIAL_KEY = 'silta.kiosk.deviceCredential';

/**
 * @typedef {object} TokenSource
 * @property {() => Promise<string>} get a valid access token
 * @property {string} subject who the token is for
 */

export class AuthError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** How long before its end a token is renewed: a minute, or a third of a short lifetime. */
const refreshMargin = (/** @type {number} */ lifetimeMs) => Math.min(REFRESH_MARGIN_MS, lifetimeMs / 3);

/**
 * Caches a token until shortly before it expires. With `keepFresh`, the
 * token is also renewed before it ends while nothing asks for it (a long
 * call, an idle kiosk), until `done()` says the source is finished (its
 * session or credential ended), retrying every 15 s when a renewal fails.
 * @param {string} subject
 * @param {() => Promise<{access_token: string, expires_in: number}>} fetchToken
 * @param {{first?: {access_token: string, expires_in: number} | null, keepFresh?: boolean, done?: () => boolean}} [options]
 * @returns {TokenSource}
 */
function cachingSource(subject, fetchToken, { first = null, keepFresh = false, done = () => false } = {}) {
  /** @type {{token: string, expires: number, margin: number} | null} */
  let cached = null;
  /** @type {Promise<string> | null} */
  let inFlight = null;
  /** @param {{access_token: string, expires_in: number}} body */
  const keep = (body) => {
    const lifetimeMs = body.expires_in * 1000;
    cached = { token: body.access_token, expires: Date.now() + lifetimeMs, margin: refreshMargin(lifetimeMs) };
    if (keepFresh) setTimeout(renew, Math.max(lifetimeMs - cached.margin + 500, 1_000));
  };
  const renew = async () => {
    if (done()) return;
    try {
      await source.get();
    } catch {
      if (!done()) setTimeout(renew, 15_000);
    }
  };
  const source = {
    subject,
    async get() {
      if (cached && cached.expires - cached.margin > Date.now()) return cached.token;
      inFlight ??= fetchToken()
        .then((body) => {
          keep(body);
          return body.access_token;
        })
        .finally(() => {
          inFlight = null;
        });
      return inFlight;
    },
  };
  if (first) keep(first);
  return source;
}

/**
 * @param {Response} response
 * @param {string} fallback
 */
async function failure(response, fallback) {
  let code = fallback;
  let detail = `HTTP ${response.status}`;
  try {
    const body = await response.json();
    code = body.code ?? code;
    detail = body.detail ?? body.title ?? detail;
  } catch {
    // Not JSON: keep the status.
  }
  return new AuthError(code, detail);
}

/**
 * A demo identity's tokens (silta dev).
 * @param {string} subject
 * @returns {TokenSource}
 */
export function demoTokenSource(subject) {
  return cachingSource(subject, async () => {
    const response = await fetch('/dev/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ subject }),
    });
    if (!response.ok) throw await failure(response, 'sign_in_failed');
    return response.json();
  });
}

/**
 * The signed-in person's tokens from their session cookie (an identity
 * provider's sign-in), or null when nobody is signed in here. The token is
 * renewed before it ends even while nothing asks for it (a long call), so
 * a session ended at the identity provider is noticed within one token
 * lifetime: `onEnded` is then called with the reason's code.
 * @param {(code: string) => void} onEnded
 * @returns {Promise<TokenSource | null>}
 */
export async function sessionTokenSource(onEnded) {
  const exchange = async () => {
    let response = await fetch('/auth/session', { method: 'POST' });
    for (let retry = 0; (response.status === 429 || response.status === 503) && retry < 2; retry += 1) {
      await retryAfter(response);
      response = await fetch('/auth/session', { method: 'POST' });
    }
    if (!response.ok) throw await failure(response, 'session_missing');
    /** @type {{access_token: string, expires_in: number}} */
    const body = await response.json();
    return body;
  };
  /** @type {{access_token: string, expires_in: number}} */
  let first;
  try {
    first = await exchange();
  } catch (error) {
    // Nobody signed in here, or no identity providers at all (no /auth).
    if (error instanceof AuthError && ['session_missing', 'session_expired', 'session_ended'].includes(error.code)) return null;
    throw error;
  }
  let ended = false;
  const renewing = async () => {
    try {
      return await exchange();
    } catch (error) {
      if (!ended && error instanceof AuthError && ['session_missing', 'session_expired', 'session_ended'].includes(error.code)) {
        ended = true;
        onEnded(error.code);
      }
      throw error;
    }
  };
  const source = cachingSource(subjectOf(first.access_token) ?? 'staff', renewing, { first, keepFresh: true, done: () => ended });
  return source;
}

/**
 * The identity providers staff sign in with; empty when there are none.
 * @returns {Promise<Array<{id: string, name: string}>>}
 */
export async function identityProviders() {
  try {
    const response = await fetch('/auth/providers');
    if (!response.ok) return [];
    /** @type {{providers: Array<{id: string, name: string}>}} */
    const body = await response.json();
    return body.providers;
  } catch {
    return [];
  }
}

/**
 * Signs out: the session cookie is cleared and the browser goes to the
 * identity provider's end-session page (which comes back to /signin/).
 */
export async function signOut() {
  let next = '/signin/?signed_out=1';
  try {
    const response = await fetch('/auth/signout', { method: 'POST' });
    if (response.ok) next = (await response.json()).next ?? next;
  } finally {
    location.assign(next);
  }
}

/**
 * The demo identities of one role (silta dev); empty when the deployment
 * has no demo sign-in.
 * @param {string} role
 * @returns {Promise<Array<{subject: string, role: string, organisation: string, languages: string[], description: string}>>}
 */
export async function demoIdentities(role) {
  try {
    const response = await fetch('/dev/identities');
    if (!response.ok) return [];
    /** @type {Array<{subject: string, role: string, organisation: string, languages: string[], description: string}>} */
    const all = await response.json();
    return all.filter((identity) => identity.role === role);
  } catch {
    return [];
  }
}

/** The subject named by `?as=` (staff pages). */
export function requestedSubject() {
  return new URLSearchParams(location.search).get('as');
}

/**
 * Stores a device credential passed in the URL fragment and removes it from
 * the address bar. Returns the stored credential, if any.
 */
export function deviceCredential() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const provided = fragment.get('credential');
  if (provided) {
    localStorage.setItem(DEVICE_CREDENTIAL_KEY, provided);
    history.replaceState(null, '', location.pathname + location.search);
  }
  return localStorage.getItem(DEVICE_CREDENTIAL_KEY);
}

/** @param {string} credential */
export function storeDeviceCredential(credential) {
  localStorage.setItem(DEVICE_CREDENTIAL_KEY, credential);
}

/** Forgets the device credential (e.g. it was revoked). */
export function forgetDeviceCredential() {
  localStorage.removeItem(DEVICE_CREDENTIAL_KEY);
}

/**
 * Waits as long as a 429's `Retry-After` says (1–10 s).
 * @param {Response} response
 */
export function retryAfter(response) {
  const seconds = Math.min(Math.max(Number(response.headers.get('retry-after')) || 1, 1), 10);
  return new Promise((resolve) => setTimeout(resolve, seconds * 1000));
}

/**
 * A kiosk's tokens from its device credential, kept fresh while the kiosk
 * runs; when an exchange finds the credential revoked or no longer valid,
 * `onRefused` is called with the code (once).
 * @param {string} credential
 * @param {(code: string) => void} [onRefused]
 * @returns {TokenSource}
 */
export function kioskTokenSource(credential, onRefused = () => {}) {
  const subject = subjectOf(credential) ?? 'kiosk';
  let refused = false;
  const fetchToken = async () => {
    try {
      return await exchangeDeviceCredential(credential);
    } catch (error) {
      if (!refused && error instanceof AuthError && ['credential_revoked', 'token_invalid', 'token_expired', 'wrong_audience'].includes(error.code)) {
        refused = true;
        onRefused(error.code);
      }
      throw error;
    }
  };
  return cachingSource(subject, fetchToken, { keepFresh: true, done: () => refused });
}

/**
 * One exchange of a device credential for an access token.
 * @param {string} credential
 * @returns {Promise<{access_token: string, expires_in: number}>}
 */
async function exchangeDeviceCredential(credential) {
  const exchange = () => fetch('/v1/token/kiosk', {
    method: 'POST',
    headers: { authorization: `Bearer ${credential}` },
  });
  let response = await exchange();
  // Over the request limits: wait as told and try again, twice at most.
  for (let retry = 0; response.status === 429 && retry < 2; retry += 1) {
    await retryAfter(response);
    response = await exchange();
  }
  if (!response.ok) throw await failure(response, 'credential_invalid');
  return response.json();
}

/**
 * The `sub` claim of a JWT, unverified (for display only; the server verifies).
 * @param {string} token
 * @returns {string | null}
 */
export function subjectOf(token) {
  try {
    const payload = token.split('.')[1] ?? '';
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const claims = JSON.parse(json);
    return typeof claims.sub === 'string' ? claims.sub : null;
  } catch {
    return null;
  }
}

/**
 * All claims of a JWT, unverified (display and defaults only).
 * @param {string} token
 * @returns {Record<string, unknown>}
 */
export function claimsOf(token) {
  try {
    const payload = token.split('.')[1] ?? '';
    return JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/')));
  } catch {
    return {};
  }
}
