// Staff sign-in through the organisations' own identity providers: two
// real OpenID providers (oidc-provider: an agency's and a municipality's),
// a real `silta dev` configured with both, real Chromium.
//
// staff-sign-in: an expert and an advisor sign in on the providers' login
// pages; the expert's agency and the advisor's service point come from the
// claims; they take a walk-in call, and the expert's 20-second tokens renew
// during it without the call noticing; the advisor signs out at the
// municipality's provider and Silta notices at the next renewal; the
// expert signs out in Silta (and at the agency's provider). Accounts with
// no role, or another app's role, are refused with a page saying so.
//
// sign-in-refusals: a replayed callback, and ID tokens from another
// issuer, for another client, altered after signing, or with an earlier
// sign-in's nonce — each refused with its own code, and none leaves a
// session behind.

import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { assert, assertMediaFlows, capture, checkAccessibility, eventually, openKiosk, sleep } from './lib.mjs';
import { callExpert, endByExpert, withSystem } from './flows.mjs';
import { siltaSettings, startIdentityProviders } from './oidc-provider.mjs';

/** A free loopback port (Silta's address must be known to the providers first). */
async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = /** @type {net.AddressInfo} */ (server.address());
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Runs `body` with both providers and a `silta dev` that trusts them.
 * @param {(server: any, browser: any, providers: any) => Promise<void>} body
 */
async function withProviders(body) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const providers = await startIdentityProviders(base);
  const config = path.join(await import('node:os').then((os) => os.tmpdir()), `silta-oidc-${port}.toml`);
  writeFileSync(config, siltaSettings(providers));
  try {
    await withSystem((server, browser) => body(server, browser, providers), {
      env: {
        SILTA_CONFIG: config,
        SILTA_SIGNAL__BIND: `127.0.0.1:${port}`,
        SILTA_AUTH__PUBLIC_URL: base,
        // Short lives, so renewals and the provider's word happen in the test.
        SILTA_AUTH__STAFF_TOKEN_LIFETIME_SECONDS: '20',
        SILTA_AUTH__RECHECK_SECONDS: '5',
      },
    });
  } finally {
    await providers.close();
  }
}

/** Claims of a token, unverified (the test reads what the app holds). */
const claimsOf = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));

/** The token the app's signaling client holds now. */
const tokenOf = (page) => page.evaluate(() => window.siltaApp.client.tokens.get());

/**
 * Opens a staff app, is sent to the sign-in page, picks the provider and
 * signs in on its login page as `login`.
 */
async function signIn(page, base, app, provider, login) {
  await page.goto(`${base}/${app}/?lang=fi`);
  await page.waitForURL(/\/signin\//);
  await page.locator(`#providers a[data-provider="${provider}"]`).click();
  await page.locator('input[name="login"]').fill(login);
  await page.locator('button[type="submit"]').click();
}

/** The refusal the sign-in page shows. */
async function refusalOn(page) {
  await page.waitForURL(/\/signin\/\?(.*&)?error=/);
  const notice = page.locator('#signin-error');
  await notice.waitFor();
  return { code: await notice.getAttribute('data-code'), text: (await notice.textContent()) ?? '' };
}

/** What `POST /auth/session` says from this page's browser. */
const sessionStatus = (page) => page.evaluate(async () => {
  const response = await fetch('/auth/session', { method: 'POST' });
  return { status: response.status, code: response.ok ? null : (await response.json()).code };
});

/**
 * A kiosk page opened with a provisioning link (the credential in the
 * address's fragment), as the person installing the kiosk does.
 */
async function openProvisionedKiosk(kiosk, link) {
  await kiosk.goto(link);
  await eventually(() => kiosk.evaluate(() => document.body.dataset.screen === 'idle' && window.siltaApp?.client?.state === 'connected'), 'the provisioned kiosk idle and connected');
  assert(!kiosk.url().includes('credential='), 'the credential left the address bar');
}

export const signinFlows = [
  {
    name: 'staff-sign-in',
    timeoutMs: 240_000,
    async run() {
      await withProviders(async (server, browser, providers) => {
        // The expert signs in at the agency's provider.
        const expert = await browser.page('expert');
        await expert.goto(`${server.base}/expert/?lang=fi`);
        await expert.waitForURL(/\/signin\/\?app=expert/);
        await expert.locator('#providers a').first().waitFor();
        const buttons = await expert.locator('#providers a').allTextContents();
        assert(buttons.some((text) => text.includes('Verohallinto')) && buttons.some((text) => text.includes('Kemin kaupunki')), `both providers offered: ${buttons}`);
        await checkAccessibility(expert, 'sign-in page');
        await capture(expert, 'signin-page');
        await signIn(expert, server.base, 'expert', 'vero', 'anna');
        await expert.waitForURL(`${server.base}/expert/`);
        await expert.locator('#app').waitFor({ state: 'visible' });
        await eventually(() => expert.evaluate(() => window.siltaApp?.client?.state === 'connected'), 'the signed-in expert connected');
        const expertClaims = claimsOf(await tokenOf(expert));
        assert(expertClaims.role === 'expert' && expertClaims.org === 'VERO' && expertClaims.sub === 'vero:anna-7f3e', `the expert's role, agency and subject from the provider: ${JSON.stringify(expertClaims)}`);
        assert(JSON.stringify(expertClaims.langs) === '["fi","sv"]', `the expert's languages from the claims: ${expertClaims.langs}`);
        // The session is an HttpOnly cookie; no token in storage or the address.
        const cookies = await expert.context().cookies(server.base);
        const session = cookies.find((cookie) => cookie.name === 'silta_session');
        assert(session && session.httpOnly && session.sameSite === 'Lax', `an HttpOnly session cookie: ${JSON.stringify(cookies.map((cookie) => [cookie.name, cookie.httpOnly, cookie.sameSite]))}`);
        const stored = await expert.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + location.href);
        assert(!stored.includes('eyJ') && !stored.includes(session.value), 'no token in localStorage, sessionStorage or the address');
        assert(await expert.locator('#signout').isVisible(), 'a sign-out button');

        // The advisor signs in at the municipality's; the service point comes from a group.
        const advisor = await browser.page('advisor');
        let callbackUrl = null;
        advisor.on('request', (request) => {
          if (request.url().includes('/auth/oidc/kemi/callback')) callbackUrl = request.url();
        });
        await signIn(advisor, server.base, 'advisor', 'kemi', 'ville');
        await advisor.waitForURL(`${server.base}/advisor/`);
        await advisor.locator('#app').waitFor({ state: 'visible' });
        await eventually(() => advisor.evaluate(() => window.siltaApp?.client?.state === 'connected'), 'the signed-in advisor connected');
        const advisorClaims = claimsOf(await tokenOf(advisor));
        assert(advisorClaims.role === 'advisor' && advisorClaims.org === 'sp-kemi', `the advisor's service point from the groups: ${JSON.stringify(advisorClaims)}`);
        assert(callbackUrl, 'the provider came back to the callback');

        // The callback cannot be used twice, in this browser or another.
        const again = await advisor.context().newPage();
        await again.goto(callbackUrl);
        const replayed = await refusalOn(again);
        assert(replayed.code === 'oidc_state_replayed', `a replayed callback refused: ${JSON.stringify(replayed)}`);
        await again.close();

        // A walk-in call between them.
        const kiosk = await browser.page('kiosk');
        await openKiosk(kiosk, server.base, 'kiosk-kemi-1', 'fi');
        await callExpert({ kiosk, advisor, expert }, { prefix: 'oidc', agency: 'VERO', language: 'fi' });
        await assertMediaFlows(kiosk, 'the kiosk', ['expert']);

        // The expert's token (20 s) renews twice during the call, on the
        // same WebSocket, the call going on.
        const socketTag = await expert.evaluate(() => {
          const socket = window.siltaApp.client.socket;
          socket.siltaTestTag = 'before-renewal';
          return socket.siltaTestTag;
        });
        const first = await tokenOf(expert);
        const renewals = [];
        expert.on('response', (response) => {
          if (response.url().endsWith('/auth/session')) renewals.push(response.status());
        });
        await eventually(async () => renewals.filter((status) => status === 200).length >= 2, 'two renewals of the expert\'s token', 60_000);
        const renewed = await tokenOf(expert);
        assert(renewed !== first && claimsOf(renewed).exp > claimsOf(first).exp, 'a fresh token');
        assert(claimsOf(renewed).org === 'VERO', 'the renewed token keeps the agency');
        const still = await expert.evaluate(() => ({ state: window.siltaApp.client.state, tag: window.siltaApp.client.socket?.siltaTestTag ?? null, inCall: !document.getElementById('call-panel').hidden }));
        assert(still.state === 'connected' && still.tag === socketTag && still.inCall, `the call went on on the same connection: ${JSON.stringify(still)}`);
        await assertMediaFlows(kiosk, 'the kiosk after the renewals', ['expert']);
        await endByExpert(expert, kiosk);

        // The advisor signs out at the municipality's provider: the next
        // renewal finds the session gone there, and the app says so.
        const idp = await advisor.context().newPage();
        await idp.goto(`${providers.kemi.issuer}/session/end`);
        await idp.locator('button[value="yes"]').click();
        await idp.waitForLoadState();
        await idp.close();
        const ended = await refusalOn(advisor);
        assert(ended.code === 'session_ended', `signing out at the provider ends the Silta session: ${JSON.stringify(ended)}`);
        assert(ended.text.includes('Kirjaudu uudelleen'), `said in Finnish: ${ended.text}`);
        assert((await sessionStatus(advisor)).status === 401, 'the advisor has no session left');
        await checkAccessibility(advisor, 'sign-in page: session ended');

        // The expert signs out in Silta (and at the agency's provider).
        await expert.locator('#signout').click();
        await expert.locator('button[value="yes"]').click();
        await expert.waitForURL(/\/signin\/\?signed_out=1/);
        await expert.locator('#signed-out').waitFor();
        const out = await sessionStatus(expert);
        assert(out.status === 401 && out.code === 'session_missing', `no session after signing out: ${JSON.stringify(out)}`);
        // Opening the app again asks for a sign-in at the provider again.
        await expert.goto(`${server.base}/expert/`);
        await expert.waitForURL(/\/signin\/\?app=expert/);
        await expert.locator('#providers a[data-provider="vero"]').click();
        await expert.locator('input[name="login"]').waitFor();

        // An account with no role in Silta: a page saying so, and nothing else.
        const olli = await browser.page('no-role');
        await signIn(olli, server.base, 'expert', 'vero', 'olli');
        const noRole = await refusalOn(olli);
        assert(noRole.code === 'oidc_no_role' && noRole.text.includes('ei ole roolia'), `no role, said so: ${JSON.stringify(noRole)}`);
        assert((await sessionStatus(olli)).status === 401, 'no session for an account without a role');
        assert(await olli.locator('#app').count() === 0, 'no app on the page');
        for (const [language, words] of [['sv', 'ingen roll'], ['en', 'no role']]) {
          await olli.selectOption('#language', language);
          await eventually(async () => ((await olli.locator('#signin-error').textContent()) ?? '').includes(words), `the refusal said in ${language}`);
        }
        await checkAccessibility(olli, 'sign-in page: no role');
        await capture(olli, 'signin-no-role');

        // The advisor's account opening the expert app: told which app is theirs.
        const ville = await browser.page('other-role');
        await signIn(ville, server.base, 'expert', 'kemi', 'ville');
        const otherRole = await refusalOn(ville);
        assert(otherRole.code === 'oidc_other_role', `another app's role: ${JSON.stringify(otherRole)}`);
        assert(await ville.locator('#signin-error a[href="/signin/?app=advisor"]').count() === 1, 'a way to the advisor app');
      });
    },
  },
  {
    name: 'sign-in-refusals',
    async run() {
      await withProviders(async (server, browser, providers) => {
        const cases = [
          ['foreign-issuer', 'oidc_wrong_issuer'],
          ['wrong-audience', 'oidc_wrong_audience'],
          ['tampered', 'oidc_bad_signature'],
          ['replayed-nonce', 'oidc_nonce_mismatch'],
        ];
        // One honest sign-in first, so there is an earlier nonce to replay.
        const honest = await browser.page('honest');
        await signIn(honest, server.base, 'expert', 'vero', 'anna');
        await honest.waitForURL(`${server.base}/expert/`);
        assert((await sessionStatus(honest)).status === 200, 'the honest sign-in holds a session');
        for (const [fault, code] of cases) {
          const page = await browser.page(fault);
          await providers.vero.misbehave(fault);
          await signIn(page, server.base, 'expert', 'vero', 'anna');
          const refusal = await refusalOn(page);
          assert(refusal.code === code, `${fault}: refused as ${code}, got ${JSON.stringify(refusal)}`);
          const left = await sessionStatus(page);
          assert(left.status === 401, `${fault}: no session left behind: ${JSON.stringify(left)}`);
          await page.context().close();
        }
        // The municipality's token altered to another service point is
        // refused too (its signature no longer holds).
        const moved = await browser.page('moved');
        await providers.kemi.misbehave('tampered');
        await signIn(moved, server.base, 'advisor', 'kemi', 'ville');
        assert((await refusalOn(moved)).code === 'oidc_bad_signature', 'an altered service point refused');
        // A callback this browser never started.
        const stray = await browser.page('stray');
        await stray.goto(`${server.base}/auth/oidc/vero/callback?code=abc&state=never-started`);
        assert((await refusalOn(stray)).code === 'oidc_state_mismatch', 'a callback not started here is refused');
        // An unknown provider.
        await stray.goto(`${server.base}/auth/oidc/nowhere/start?app=expert`);
        assert((await refusalOn(stray)).code === 'oidc_unknown_provider', 'an unknown provider is refused');
        await sleep(10);
      });
    },
  },
  {
    name: 'kiosk-credentials',
    async run() {
      // Kiosk tokens of 15 s, so the next exchange comes within the test.
      await withSystem(async (server, browser) => {
        const admin = await browser.page('admin');
        await admin.goto(`${server.base}/admin/?as=admin-1&lang=fi`);
        await admin.locator('#operations[data-state="ready"]').waitFor({ timeout: 20_000 });
        await admin.locator('nav a[href="#kiosks"]').click();
        await admin.locator('#credential-kiosk option[value="kiosk-kemi-1"]').waitFor({ state: 'attached' });
        await admin.selectOption('#credential-kiosk', 'kiosk-kemi-1');
        await admin.locator('#credentials-table tbody td').first().waitFor();
        assert((await admin.locator('#credentials-table tbody tr[data-credential]').count()) === 0, 'no credentials issued for the kiosk yet');
        await checkAccessibility(admin, 'admin: kiosk credentials');

        // Issued: shown once, as a provisioning link.
        await admin.fill('#credential-days', '30');
        await admin.locator('#credential-form button[type="submit"]').click();
        const link = await admin.locator('#credential-link').inputValue();
        assert(link.startsWith(`${server.base}/kiosk/#credential=`), `a provisioning link: ${link.slice(0, 60)}`);
        await eventually(async () => (await admin.locator('#credentials-table tbody tr[data-state="valid"]').count()) === 1, 'the credential listed as valid');
        await checkAccessibility(admin, 'admin: a credential issued');
        await capture(admin, 'admin-credential-issued');
        // A second credential for a second screen of the same kiosk.
        await admin.locator('#credential-form button[type="submit"]').click();
        await eventually(async () => (await admin.locator('#credentials-table tbody tr[data-state="valid"]').count()) === 2, 'two credentials listed');
        const second = await admin.locator('#credential-link').inputValue();
        assert(second !== link, 'each credential is its own');

        // The kiosk is provisioned with the first and takes a session.
        const kiosk = await browser.page('kiosk');
        await openProvisionedKiosk(kiosk, link);
        const other = await browser.page('kiosk-2');
        await openProvisionedKiosk(other, second);
        const stored = await kiosk.evaluate(() => localStorage.getItem('silta.kiosk.deviceCredential'));
        const id = JSON.parse(Buffer.from(stored.split('.')[1], 'base64url').toString('utf8')).jti;

        // Revoked on the admin page: the kiosk's next token exchange is
        // refused and it leaves service (back to provisioning); the other
        // credential's kiosk goes on.
        const exchanges = [];
        kiosk.on('response', (response) => {
          if (response.url().endsWith('/v1/token/kiosk')) exchanges.push(response.status());
        });
        const row = admin.locator(`#credentials-table tbody tr[data-credential="${id}"]`);
        await row.locator('button').click();
        await eventually(async () => (await row.getAttribute('data-state')) === 'revoked', 'the credential listed as revoked');
        await checkAccessibility(admin, 'admin: a credential revoked');
        await eventually(() => kiosk.evaluate(() => document.body.dataset.screen === 'provision'), 'the revoked kiosk back at provisioning', 30_000);
        assert(exchanges.includes(401), `the exchange was refused: ${exchanges}`);
        assert((await kiosk.evaluate(() => localStorage.getItem('silta.kiosk.deviceCredential'))) === null, 'the revoked credential forgotten');
        await sleep(16_000);
        assert(await other.evaluate(() => document.body.dataset.screen === 'idle' && window.siltaApp.client.state === 'connected'), 'the other kiosk still in service');
        // The revoked credential is refused however it is presented.
        const refused = await fetch(`${server.base}/v1/token/kiosk`, { method: 'POST', headers: { authorization: `Bearer ${stored}` } });
        assert(refused.status === 401 && (await refused.json()).code === 'credential_revoked', 'the revoked credential refused');
      }, { env: { SILTA_SIGNAL__KIOSK_TOKEN_LIFETIME_SECONDS: '15' } });
    },
  },
];
