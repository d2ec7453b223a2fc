// The demo's front page: every app, with the demo identities that open it.

import { demoIdentities, storeDeviceCredential } from './shared/auth.js';
import { onLanguageChange, t } from './shared/i18n.js';
import { byId, h, setUpLanguagePicker, showError } from './shared/ui.js';

const ROLES = ['kiosk', 'advisor', 'expert', 'interpreter', 'admin'];

/** @type {Record<string, Array<{subject: string, description: string}>>} */
const identities = {};

async function main() {
  await setUpLanguagePicker(/** @type {HTMLSelectElement} */ (byId('language')), './i18n/', 'silta.home.language');
  for (const role of ROLES) identities[role] = await demoIdentities(role);
  onLanguageChange(render);
  render();
}

/** @param {string} subject */
async function openKiosk(subject) {
  const response = await fetch('/dev/device-credential', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ subject }),
  });
  if (!response.ok) return showError({ code: 'credential_invalid' });
  storeDeviceCredential((await response.json()).credential);
  location.href = '/kiosk/';
}

function render() {
  document.title = t('app.title');
  byId('apps').replaceChildren(
    ...ROLES.map((role) =>
      h('section', { class: 'panel', 'aria-labelledby': `app-${role}` },
        h('h2', { id: `app-${role}` }, t(`home.${role}.title`)),
        h('p', {}, t(`home.${role}.text`)),
        h('ul', { class: 'plain' }, ...(identities[role] ?? []).map((identity) =>
          h('li', {},
            role === 'kiosk'
              ? h('button', { type: 'button', class: 'primary', onclick: () => openKiosk(identity.subject) }, t('home.open_as', { subject: identity.subject }))
              : h('a', { class: 'button primary', href: `/${role}/?as=${encodeURIComponent(identity.subject)}` }, t('home.open_as', { subject: identity.subject })),
            ' ', h('span', { class: 'muted' }, identity.description),
          ))),
      ),
    ),
  );
}

main().catch(showError);
