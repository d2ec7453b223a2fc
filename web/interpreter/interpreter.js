// The interpreter: availability, invitations by language, join, leave.
// Leaving never ends the session. Service points are named from the
// booking directory.

import { wireCallControls } from '../shared/controls.js';
import { directory } from '../shared/directory.js';
import { onLanguageChange, t } from '../shared/i18n.js';
import { OfferList, wirePresence } from '../shared/offers.js';
import { openRoom } from '../shared/session.js';
import { startStaffApp } from '../shared/staff.js';
import { announce, byId, showError } from '../shared/ui.js';

const app = {
  /** @type {import('../shared/client.js').SignalClient | null} */
  client: null,
  /** @type {import('../shared/session.js').RoomSession | null} */
  session: null,
  subject: '',
  /** @type {string[]} */
  languages: [],
  /** @type {() => void} */
  resetControls: () => {},
};
Object.assign(window, { siltaApp: app });

async function main() {
  const { tokens, claims, client } = await startStaffApp('interpreter');
  app.client = client;
  app.subject = tokens.subject;
  app.languages = Array.isArray(claims.langs) ? claims.langs.map(String) : [];
  const offersElement = byId('offers');
  new OfferList(client, offersElement, (room) => enterRoom(room));
  const renderPresence = wirePresence(client);
  new MutationObserver(() => {
    byId('offers-empty').hidden = offersElement.childElementCount > 0;
  }).observe(offersElement, { childList: true });
  const welcome = await client.connect();
  for (const room of welcome.rooms ?? []) await enterRoom(room);
  app.resetControls = wireCallControls(() => app.session, { mute: byId('mute'), camera: byId('camera') });
  byId('leave').addEventListener('click', async () => {
    if (!app.session || !app.client) return;
    try {
      await app.client.request({ type: 'leave', room: app.session.room });
      closeSession();
      announce(t('call.left_session'));
    } catch (error) {
      showError(error);
    }
  });
  const render = () => {
    document.title = t('app.title');
    byId('who').textContent = t('signin.as', { subject: app.subject });
    byId('languages').textContent = t('languages.mine', { languages: app.languages.map((lang) => t(`lang.${lang}`)).join(', ') });
    renderPresence();
    renderCall();
  };
  onLanguageChange(render);
  directory.addEventListener('change', render);
  render();
}

/** @param {import('../types/wire').RoomState} state */
async function enterRoom(state) {
  if (!app.client || app.session?.room === state.room) return;
  app.session?.close();
  const view = { panel: byId('call-panel'), stage: byId('stage'), text: byId('live-text'), quality: byId('quality'), primaryRoles: ['kiosk', 'expert'], documents: { container: byId('documents'), role: /** @type {const} */ ('interpreter') } };
  await openRoom(app.client, state, view, (session) => {
    app.session = session;
    session.addEventListener('change', renderCall);
    session.addEventListener('ended', () => {
      closeSession();
      announce(t('call.ended'));
    });
    session.addEventListener('lost', () => closeSession());
    renderCall();
    announce(t('call.started', { point: directory.pointName(state.service_point) }));
  });
}

function closeSession() {
  app.resetControls();
  app.session?.close();
  app.session = null;
}

function renderCall() {
  if (!app.session) return;
  byId('call-state').textContent = t('call.at', { point: directory.pointName(app.session.servicePoint) });
}

main().catch((error) => showError(error));
