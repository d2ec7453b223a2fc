// Two real OpenID providers for the sign-in flows: `oidc-provider` (a
// certified implementation) as an agency's (Verohallinto: every account an
// expert of VERO, roles in `roles`) and a municipality's (Kemi: advisors by
// group, the service point from a group). Each has a plain login page (a
// user name) and grants consent by itself, as an organisation's own
// single sign-on does for its own application.
//
// For the refusal tests a provider can be told to misbehave once, on its
// next token response, as a compromised or misconfigured provider (or
// someone in between) would: an ID token from another issuer, for another
// client, with claims altered after signing, or with an earlier sign-in's
// nonce. Those tokens are signed with the provider's own key (except the
// altered one), so only Silta's checks stand between them and a session.

import { createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import http from 'node:http';

// The library's advice to a production deployment (its in-memory store,
// its Node.js version, its default pages) is noise in a test's output.
for (const level of ['warn', 'info', 'log']) {
  const write = console[level].bind(console);
  console[level] = (...args) => {
    if (typeof args[0] === 'string' && args[0].startsWith('oidc-provider ')) return;
    write(...args);
  };
}
const { default: Provider } = await import('oidc-provider');

export const CLIENT_ID = 'silta';
export const CLIENT_SECRET = 'silta-test-client-secret-0123456789';

/** The test people of each provider, by login name. */
const PEOPLE = {
  vero: {
    anna: { sub: 'anna-7f3e', roles: ['silta-asiantuntija'], languages: ['fi', 'sv'] },
    olli: { sub: 'olli-2b91', roles: ['henkilosto'] },
  },
  kemi: {
    ville: { sub: 'ville-c4d2', groups: ['kaikki', 'palveluneuvoja', 'palvelupiste-kemi'], languages: 'fi sv' },
  },
};

const b64 = (value) => Buffer.from(value).toString('base64url');
const fromB64 = (value) => JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));

/**
 * Starts one provider on a free loopback port.
 * @param {'vero' | 'kemi'} name
 * @param {string} siltaBase where Silta is reached (its public_url)
 */
async function startOne(name, siltaBase) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: `${name}-1`, use: 'sig', alg: 'RS256' };
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const people = PEOPLE[name];
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [`${siltaBase}/auth/oidc/${name}/callback`],
        post_logout_redirect_uris: [`${siltaBase}/auth/signed-out`],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: [`${name}-cookie-key-for-tests`] },
    claims: { openid: ['sub'], silta: ['roles', 'groups', 'languages'] },
    scopes: ['openid', 'offline_access', 'silta'],
    // Custom claims in the ID token itself (Silta reads the ID token).
    conformIdTokenClaims: false,
    // A refresh token bound to the session here: signing out here ends it.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    pkce: { required: () => true },
    ttl: { AccessToken: 300, IdToken: 300, RefreshToken: 3600, Session: 3600, Interaction: 600, Grant: 3600 },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          ctx.body = `<!DOCTYPE html><html lang="fi"><head><meta charset="utf-8"><title>${name}: sign out</title></head><body><main>${form}<h1>Sign out of ${name}?</h1><button form="op.logoutForm" type="submit" name="logout" value="yes">Yes, sign out</button></main></body></html>`;
        },
      },
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: async (_ctx, sub) => {
      const person = Object.values(people).find((candidate) => candidate.sub === sub);
      if (!person) return undefined;
      return { accountId: sub, claims: async () => ({ ...person }) };
    },
  });
  provider.proxy = false;

  // The fault to commit on the next token response, if any.
  let fault = null;
  let lastNonce = null;
  const key = createPrivateKey({ key: jwk, format: 'jwk' });
  const resign = (payload, header) => {
    const head = b64(JSON.stringify(header));
    const body = b64(JSON.stringify(payload));
    return `${head}.${body}.${sign('sha256', Buffer.from(`${head}.${body}`), key).toString('base64url')}`;
  };
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path !== '/token' || ctx.status !== 200 || !ctx.body?.id_token) return;
    const [head, body, signature] = ctx.body.id_token.split('.');
    const header = fromB64(head);
    const payload = fromB64(body);
    const previous = lastNonce;
    if (payload.nonce) lastNonce = payload.nonce;
    const now = fault;
    fault = null;
    if (now === 'foreign-issuer') ctx.body.id_token = resign({ ...payload, iss: 'http://127.0.0.1:9/another-issuer' }, header);
    if (now === 'wrong-audience') ctx.body.id_token = resign({ ...payload, aud: 'another-client' }, header);
    if (now === 'replayed-nonce') ctx.body.id_token = resign({ ...payload, nonce: previous ?? 'an-earlier-nonce' }, header);
    if (now === 'tampered') {
      // Another organisation's role, the provider's signature kept.
      const altered = { ...payload, roles: ['silta-asiantuntija', 'silta-admin'], groups: ['palveluneuvoja', 'palvelupiste-inari'] };
      ctx.body.id_token = `${head}.${b64(JSON.stringify(altered))}.${signature}`;
    }
  });

  const page = (title, inner) =>
    `<!DOCTYPE html><html lang="fi"><head><meta charset="utf-8"><title>${title}</title></head><body><main><h1>${title}</h1>${inner}</main></body></html>`;
  const callback = provider.callback();
  server.on('request', async (req, res) => {
    try {
      const url = new URL(req.url, issuer);
      if (url.pathname === '/test/fault' && req.method === 'POST') {
        fault = url.searchParams.get('fault');
        res.writeHead(204).end();
        return;
      }
      const match = url.pathname.match(/^\/interaction\/([^/]+)(\/login)?$/);
      if (!match) return callback(req, res);
      const details = await provider.interactionDetails(req, res);
      if (match[2] && req.method === 'POST') {
        const form = new URLSearchParams(await new Promise((resolve) => {
          let data = '';
          req.on('data', (chunk) => { data += chunk; });
          req.on('end', () => resolve(data));
        }));
        const person = people[form.get('login') ?? ''];
        if (!person) {
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page(`${name}: sign in`, `<p role="alert">Unknown user</p>${loginForm(details.uid)}`));
          return;
        }
        await provider.interactionFinished(req, res, { login: { accountId: person.sub } }, { mergeWithLastSubmission: false });
        return;
      }
      if (details.prompt.name === 'login') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page(`${name}: sign in`, loginForm(details.uid)));
        return;
      }
      // Consent: the organisation's own application, granted as asked.
      const { prompt: { details: missing }, params, session } = details;
      const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
      const grantId = await grant.save();
      await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error?.message ?? error));
    }
  });
  return {
    name,
    issuer,
    /** Makes the next token response misbehave once. */
    async misbehave(kind) {
      const response = await fetch(`${issuer}/test/fault?fault=${kind}`, { method: 'POST' });
      if (response.status !== 204) throw new Error(`${name}: the fault was not set`);
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

function loginForm(uid) {
  return `<form method="post" action="/interaction/${uid}/login"><label for="login">User name</label> <input id="login" name="login" autocomplete="off" autofocus> <button type="submit">Sign in</button></form>`;
}

/**
 * Both providers, sending people back to `siltaBase`.
 * @param {string} siltaBase
 */
export async function startIdentityProviders(siltaBase) {
  const vero = await startOne('vero', siltaBase);
  const kemi = await startOne('kemi', siltaBase);
  return { vero, kemi, close: async () => { await vero.close(); await kemi.close(); } };
}

/**
 * The `[[auth.oidc]]` settings for both providers (TOML).
 * @param {{vero: {issuer: string}, kemi: {issuer: string}}} providers
 */
export function siltaSettings(providers) {
  return `
[[auth.oidc]]
id = "vero"
name = "Verohallinto"
issuer = "${providers.vero.issuer}"
client_id = "${CLIENT_ID}"
client_secret = "${CLIENT_SECRET}"
scopes = ["silta"]
[auth.oidc.claims]
role = "roles"
roles = { "silta-asiantuntija" = "expert", "silta-admin" = "admin" }
fixed_organisation = "VERO"
languages = "languages"

[[auth.oidc]]
id = "kemi"
name = "Kemin kaupunki"
issuer = "${providers.kemi.issuer}"
client_id = "${CLIENT_ID}"
client_secret = "${CLIENT_SECRET}"
scopes = ["silta"]
[auth.oidc.claims]
role = "groups"
roles = { "palveluneuvoja" = "advisor" }
organisation = "groups"
organisations = { "palvelupiste-kemi" = "sp-kemi", "palvelupiste-inari" = "sp-inari" }
languages = "languages"
`;
}
