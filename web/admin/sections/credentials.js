// Kiosk device credentials, part of the kiosks section: issue one for a
// kiosk (shown once, as the link that provisions the kiosk), list a
// kiosk's credentials and revoke one (the kiosk's next token exchange is
// refused, at most 15 minutes later).

import { t } from '../../shared/i18n.js';
import { announce, h, replace } from '../../shared/ui.js';
import { field, input, msg, select, showProblem } from '../kit.js';
import { api, directory } from '../store.js';

/** @typedef {{id: string, kiosk: string, service_point: string, issued_at: string, expires_at: string, revoked_at?: string | null}} CredentialInfo */

const dateTime = (/** @type {string} */ value) => new Date(value).toLocaleString(document.documentElement.lang || 'fi', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'Europe/Helsinki' });

export function credentialsSection() {
  const errors = h('div', { id: 'credentials-errors', class: 'form-errors', role: 'alert', tabindex: -1, hidden: true });
  const form = h(
    'form',
    { id: 'credential-form', 'aria-labelledby': 'credentials-title', onsubmit: (/** @type {Event} */ event) => { event.preventDefault(); issue(); } },
    msg('h3', 'credentials.title', { id: 'credentials-title' }),
    msg('p', 'credentials.intro', { class: 'muted' }),
    h(
      'div',
      { class: 'grid compact' },
      field('credential-kiosk', 'field.kioskId', h('select', { name: 'credential-kiosk', onchange: () => renderCredentials() })),
      field('credential-days', 'credentials.validDays', h('input', { type: 'number', name: 'credential-days', min: '1', max: '1830', value: '365', required: true })),
    ),
    errors,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, msg('span', 'credentials.issue'))),
    h('div', { id: 'credential-issued', hidden: true }),
  );
  return [form, h('table', { id: 'credentials-table', class: 'data' }, msg('caption', 'credentials.caption'), h('thead'), h('tbody'))];
}

function chosenKiosk() {
  return select('credential-kiosk').value;
}

async function issue() {
  const errors = /** @type {HTMLElement} */ (document.getElementById('credentials-errors'));
  errors.hidden = true;
  const kiosk = chosenKiosk();
  const days = Number(input('credential-days').value);
  if (!kiosk || !Number.isInteger(days) || days < 1 || days > 1830) {
    replace(errors, h('p', {}, t('credentials.invalid')));
    errors.hidden = false;
    errors.focus();
    return;
  }
  try {
    const issued = await api.post(`/kiosks/${encodeURIComponent(kiosk)}/credentials`, { valid_days: days });
    const link = `${location.origin}/kiosk/#credential=${issued.credential}`;
    const shown = /** @type {HTMLElement} */ (document.getElementById('credential-issued'));
    const linkField = h('input', { id: 'credential-link', type: 'text', readonly: true, value: link, 'aria-describedby': 'credential-once' });
    replace(
      shown,
      h('p', { id: 'credential-once', class: 'notice' }, t('credentials.once', { kiosk, expires: dateTime(issued.expires_at) })),
      field('credential-link', 'credentials.link', linkField),
      h('div', { class: 'actions' }, h('button', { type: 'button', id: 'credential-copy', onclick: () => copy(link) }, msg('span', 'credentials.copy'))),
    );
    shown.hidden = false;
    announce(t('credentials.issued', { kiosk }));
    await renderCredentials();
  } catch (error) {
    showProblem(errors, error);
  }
}

/** @param {string} link */
async function copy(link) {
  try {
    await navigator.clipboard.writeText(link);
    announce(t('credentials.copied'));
  } catch {
    /** @type {HTMLInputElement} */ (document.getElementById('credential-link')).select();
  }
}

/** @param {CredentialInfo} credential */
async function revoke(credential) {
  const errors = /** @type {HTMLElement} */ (document.getElementById('credentials-errors'));
  try {
    await api.post(`/device-credentials/${encodeURIComponent(credential.id)}/revoke`);
    announce(t('credentials.revoked', { kiosk: credential.kiosk }));
    await renderCredentials();
  } catch (error) {
    showProblem(errors, error);
  }
}

/** Fills the kiosk choice and lists the chosen kiosk's credentials. */
export async function renderCredentials() {
  const choice = document.getElementById('credential-kiosk');
  if (!(choice instanceof HTMLSelectElement)) return;
  const previous = choice.value;
  choice.replaceChildren(...directory.kiosks.map((kiosk) => h('option', { value: kiosk.id }, kiosk.id)));
  if (previous && directory.kiosks.some((kiosk) => kiosk.id === previous)) choice.value = previous;
  const kiosk = choice.value;
  const table = /** @type {HTMLTableElement} */ (document.getElementById('credentials-table'));
  const head = /** @type {HTMLElement} */ (table.tHead);
  const body = /** @type {HTMLElement} */ (table.tBodies[0]);
  replace(head, h('tr', {}, ...['credentials.id', 'credentials.issuedAt', 'credentials.expiresAt', 'credentials.state', 'credentials.action'].map((key) => h('th', { scope: 'col' }, t(key)))));
  if (!kiosk) {
    replace(body);
    return;
  }
  /** @type {CredentialInfo[]} */
  let credentials = [];
  try {
    credentials = await api.get(`/kiosks/${encodeURIComponent(kiosk)}/credentials`);
  } catch (error) {
    showProblem(/** @type {HTMLElement} */ (document.getElementById('credentials-errors')), error);
    return;
  }
  if (credentials.length === 0) {
    replace(body, h('tr', {}, h('td', { colspan: '5' }, t('credentials.none'))));
    return;
  }
  replace(
    body,
    ...credentials.map((credential) =>
      h(
        'tr',
        { 'data-credential': credential.id, 'data-state': credential.revoked_at ? 'revoked' : 'valid' },
        h('td', {}, h('code', {}, credential.id.slice(0, 8))),
        h('td', {}, dateTime(credential.issued_at)),
        h('td', {}, dateTime(credential.expires_at)),
        h('td', {}, credential.revoked_at ? t('credentials.revokedAt', { at: dateTime(credential.revoked_at) }) : t('credentials.valid')),
        h(
          'td',
          {},
          credential.revoked_at
            ? ''
            : h('button', { type: 'button', class: 'danger', 'aria-label': t('credentials.revokeOne', { id: credential.id.slice(0, 8) }), onclick: () => revoke(credential) }, t('credentials.revoke')),
        ),
      ),
    ),
  );
}
