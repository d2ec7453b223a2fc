// The staff sign-in page: one button per identity provider (each
// organisation signs its people in itself), and what went wrong or that
// the person signed out, in their language. Only a reason's code and the
// app come in the address, never a token.

import { identityProviders } from '../shared/auth.js';
import { onLanguageChange, t } from '../shared/i18n.js';
import { byId, h, setUpLanguagePicker } from '../shared/ui.js';

const APPS = ['advisor', 'expert', 'interpreter', 'admin'];
/** Reasons with a message of their own; others are told generally, with their code. */
const REASONS = [
  'oidc_no_role', 'oidc_other_role', 'oidc_organisation_missing', 'oidc_organisation_ambiguous', 'oidc_organisation_invalid',
  'oidc_subject_unusable', 'oidc_denied', 'oidc_provider_unreachable', 'oidc_state_mismatch', 'oidc_state_replayed',
  'oidc_login_expired', 'session_ended', 'session_expired',
];

const params = new URLSearchParams(location.search);
/** @type {Array<{id: string, name: string}>} */
let providers = [];

function chosenApp() {
  const app = params.get('app');
  return app && APPS.includes(app) ? app : 'expert';
}

function renderNotice() {
  const error = params.get('error');
  const notice = byId('notice');
  if (error) {
    const known = REASONS.includes(error);
    const roles = (params.get('roles') ?? '').split(',').filter((role) => APPS.includes(role));
    notice.replaceChildren(
      h('div', { class: 'notice error', role: 'alert', id: 'signin-error', 'data-code': error },
        h('p', {}, known ? t(`signin.error.${error}`) : t('signin.error.other')),
        roles.length > 0
          ? h('ul', { class: 'plain' }, ...roles.map((role) => h('li', {}, h('a', { href: `/signin/?app=${role}` }, t('signin.open_app', { app: t(`signin.app.${role}`) })))))
          : null,
        h('p', { class: 'muted' }, t('signin.error.code', { code: error })),
      ),
    );
  } else if (params.get('signed_out')) {
    notice.replaceChildren(h('div', { class: 'notice', role: 'status', id: 'signed-out' }, h('p', {}, t('signin.signed_out'))));
  } else {
    notice.replaceChildren();
  }
}

function renderProviders() {
  const select = /** @type {HTMLSelectElement} */ (byId('signin-app'));
  const app = select.value || chosenApp();
  select.replaceChildren(...APPS.map((role) => h('option', { value: role }, t(`signin.app.${role}`))));
  select.value = app;
  const list = byId('providers');
  if (providers.length === 0) {
    list.replaceChildren(h('p', {}, t('signin.unavailable')));
    return;
  }
  list.replaceChildren(
    ...providers.map((provider) =>
      h('a', { class: 'button primary', 'data-provider': provider.id, href: `/auth/oidc/${encodeURIComponent(provider.id)}/start?app=${encodeURIComponent(app)}` }, t('signin.with', { provider: provider.name })),
    ),
  );
}

function render() {
  document.title = t('app.title');
  renderNotice();
  renderProviders();
}

async function main() {
  await setUpLanguagePicker(/** @type {HTMLSelectElement} */ (byId('language')), './i18n/', 'silta.signin.language');
  providers = await identityProviders();
  const select = /** @type {HTMLSelectElement} */ (byId('signin-app'));
  select.value = chosenApp();
  select.addEventListener('change', () => {
    const url = new URL(location.href);
    url.searchParams.set('app', select.value);
    history.replaceState(null, '', url);
    renderProviders();
  });
  onLanguageChange(render);
  render();
}

main();
