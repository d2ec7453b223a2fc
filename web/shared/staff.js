// Sign-in for staff apps (advisor, expert, interpreter, admin): the
// session from an identity provider's sign-in (see auth.js), or to the
// sign-in page when there is none; in `silta dev` without identity
// providers, `?as=<subject>` or a picker of the role's demo identities.

import { bookingApi } from './api.js';
import { claimsOf, demoIdentities, demoTokenSource, identityProviders, requestedSubject, sessionTokenSource } from './auth.js';
import { SignalClient } from './client.js';
import { directory } from './directory.js';
import { t } from './i18n.js';
import { addSignOut } from './signout.js';
import { byId, h, setUpLanguagePicker, showConnectionState, showError } from './ui.js';

/**
 * The start every staff page shares: its language, sign-in, the booking
 * API (with the directory's names loading from it) and the signaling
 * client (not yet connected) with its connection banner.
 * @param {string} role advisor | expert | interpreter
 */
export async function startStaffApp(role) {
  await setUpLanguagePicker(/** @type {HTMLSelectElement} */ (byId('language')), './i18n/', `silta.${role}.language`);
  document.title = t('app.title');
  const tokens = await signIn(role, byId('signin'));
  byId('signin').replaceChildren();
  byId('app').hidden = false;
  const claims = claimsOf(await tokens.get());
  const api = bookingApi(tokens);
  // Names arrive while the signaling connection opens; screens re-render on `change`.
  directory.load(api).catch(showError);
  const client = new SignalClient(tokens);
  showConnectionState(client);
  client.addEventListener('autherror', (event) => showError(/** @type {CustomEvent<unknown>} */ (event).detail));
  return { tokens, claims, client, api };
}

/**
 * Resolves with a token source for the signed-in person; shows a sign-in
 * form in `container` first when nobody is named in the address.
 * @param {string} role
 * @param {HTMLElement} container
 * @returns {Promise<import('./auth.js').TokenSource>}
 */
export async function signIn(role, container) {
  const named = requestedSubject();
  if (named) return demoTokenSource(named);
  // Signed in through an identity provider: the session's tokens, and a
  // way out. A session that ends (signed out at the provider, the role
  // taken away) takes the page to the sign-in page, which says why.
  const session = await sessionTokenSource((code) => location.assign(`/signin/?app=${role}&error=${encodeURIComponent(code)}`));
  if (session) {
    addSignOut();
    return session;
  }
  if ((await identityProviders()).length > 0) {
    location.assign(`/signin/?app=${role}`);
    return new Promise(() => {});
  }
  const identities = await demoIdentities(role);
  return new Promise((resolve) => {
    if (identities.length === 0) {
      container.replaceChildren(h('section', { class: 'panel' }, h('h2', {}, t('signin.title')), h('p', {}, t('signin.unavailable'))));
      return;
    }
    const select = /** @type {HTMLSelectElement} */ (
      h('select', { id: 'signin-subject' }, ...identities.map((identity) => h('option', { value: identity.subject }, `${identity.subject} – ${identity.description}`)))
    );
    const form = h(
      'form',
      {
        class: 'panel',
        onsubmit: (/** @type {Event} */ event) => {
          event.preventDefault();
          const url = new URL(location.href);
          url.searchParams.set('as', select.value);
          history.replaceState(null, '', url);
          resolve(demoTokenSource(select.value));
        },
      },
      h('h2', {}, t('signin.title')),
      h('div', { class: 'field' }, h('label', { for: 'signin-subject' }, t('signin.choose')), select),
      h('button', { type: 'submit', class: 'primary' }, t('signin.submit')),
    );
    container.replaceChildren(form);
  });
}
