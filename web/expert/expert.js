// The agency expert: availability, the queue with waiting times, today's
// bookings, offers to accept, and in a call: microphone, camera, screen
// share, interpreter by language, transfer to another agency, end with an
// outcome.

import { bookingApi } from '../shared/api.js';
import { wireCallControls } from '../shared/controls.js';
import { formatDuration, formatTime, onLanguageChange, t } from '../shared/i18n.js';
import { OfferList, wirePresence } from '../shared/offers.js';
import { openRoom } from '../shared/session.js';
import { startStaffApp } from '../shared/staff.js';
import { announce, byId, h, showError } from '../shared/ui.js';

const OUTCOMES = ['resolved', 'follow_up', 'referred', 'abandoned', 'technical_failure'];
const INTERPRETER_LANGUAGES = ['fi', 'sv', 'se', 'fse', 'fss', 'ar', 'ru', 'so', 'en'];
const AGENCIES = ['VERO', 'POLIISI', 'TE', 'KELA', 'MIGRI'];
const SERVICE_LANGUAGES = ['fi', 'sv', 'en', 'se'];

const app = {
  /** @type {import('../shared/client.js').SignalClient | null} */
  client: null,
  /** @type {import('../shared/session.js').RoomSession | null} */
  session: null,
  agency: '',
  subject: '',
  /** @type {{agency: string, entries: any[], at: number}} */
  queue: { agency: '', entries: [], at: Date.now() },
  /** @type {any[]} */
  bookings: [],
  /** @type {string[]} */
  notices: [],
  transferring: false,
  /** @type {() => void} */
  resetControls: () => {},
};
Object.assign(window, { siltaApp: app });

async function main() {
  const { tokens, claims, client } = await startStaffApp('expert');
  app.client = client;
  app.agency = String(claims.org ?? '');
  app.subject = tokens.subject;
  const api = bookingApi(tokens);
  new OfferList(client, byId('offers'), (room) => enterRoom(room));
  const renderPresence = wirePresence(client);
  client.on('queue_snapshot', (snapshot) => {
    app.queue = { agency: snapshot.agency, entries: snapshot.entries, at: Date.now() };
    renderQueue();
  });
  client.on('appointment_checked_in', (message) => {
    app.notices.push(t('notice.checked_in', { point: message.service_point }));
    renderNotices();
    announce(t('notice.checked_in', { point: message.service_point }));
    loadBookings(api);
  });
  const welcome = await client.connect();
  for (const room of welcome.rooms ?? []) await enterRoom(room);
  fillSelects();
  wireControls();
  onLanguageChange(() => {
    document.title = t('app.title');
    renderWho();
    fillSelects();
    renderQueue();
    renderBookings();
    renderPresence();
    renderNotices();
    renderCall();
  });
  renderWho();
  renderQueue();
  window.setInterval(renderQueueTimes, 1000);
  await loadBookings(api);
}

function renderWho() {
  byId('who').textContent = `${t('signin.as', { subject: app.subject })} · ${t(`agency.${app.agency}`)}`;
}

/** @param {HTMLSelectElement} select @param {string[]} values @param {(v: string) => string} label */
function fill(select, values, label) {
  const chosen = select.value;
  select.replaceChildren(...values.map((value) => h('option', { value }, label(value))));
  if (chosen && values.includes(chosen)) select.value = chosen;
}

function fillSelects() {
  fill(/** @type {HTMLSelectElement} */ (byId('end-outcome')), OUTCOMES, (code) => t(`outcome.${code}`));
  fill(/** @type {HTMLSelectElement} */ (byId('interpreter-language')), INTERPRETER_LANGUAGES, (lang) => t(`lang.${lang}`));
  fill(/** @type {HTMLSelectElement} */ (byId('transfer-agency')), AGENCIES.filter((code) => code !== app.agency), (code) => t(`agency.${code}`));
  fill(/** @type {HTMLSelectElement} */ (byId('transfer-language')), SERVICE_LANGUAGES, (lang) => t(`lang.${lang}`));
}

function wireControls() {
  app.resetControls = wireCallControls(() => app.session, { mute: byId('mute'), camera: byId('camera'), screen: byId('screen') });
  byId('interpreter-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!app.session || !app.client) return;
    const language = /** @type {HTMLSelectElement} */ (byId('interpreter-language')).value;
    try {
      await app.client.request({ type: 'interpreter_invite', room: app.session.room, target: { by: 'language', language } });
      announce(t('interpreter.invited', { language: t(`lang.${language}`) }));
    } catch (error) {
      showError(error);
    }
  });
  byId('transfer-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!app.session || !app.client) return;
    const agency = /** @type {HTMLSelectElement} */ (byId('transfer-agency')).value;
    const language = /** @type {HTMLSelectElement} */ (byId('transfer-language')).value;
    try {
      await app.client.request({ type: 'transfer', room: app.session.room, target: { by: 'queue', agency, language } });
      app.transferring = true;
      renderCall();
      announce(t('transfer.requested', { agency: t(`agency.${agency}`) }));
    } catch (error) {
      showError(error);
    }
  });
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
  byId('end-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!app.session || !app.client) return;
    const outcome = /** @type {HTMLSelectElement} */ (byId('end-outcome')).value;
    try {
      await app.client.request({ type: 'session_end', room: app.session.room, outcome });
    } catch (error) {
      showError(error);
    }
  });
}

/** @param {any} state */
async function enterRoom(state) {
  if (!app.client || app.session?.room === state.room) return;
  app.session?.close();
  app.transferring = false;
  const view = { panel: byId('call-panel'), stage: byId('stage'), quality: byId('quality'), primaryRoles: ['kiosk'] };
  await openRoom(app.client, state, view, (session) => {
    app.session = session;
    session.addEventListener('change', renderCall);
    session.addEventListener('ended', (event) => {
      const outcome = /** @type {CustomEvent} */ (event).detail.outcome;
      closeSession();
      announce(t('call.ended', { outcome: t(`outcome.${outcome}`) }));
    });
    session.addEventListener('lost', () => closeSession());
    renderCall();
    announce(t('call.started', { point: state.service_point }));
  });
}

function closeSession() {
  app.resetControls();
  app.session?.close();
  app.session = null;
  app.transferring = false;
}

function renderCall() {
  const session = app.session;
  if (!session) return;
  const others = [...session.participants.values()];
  const otherExpert = others.find((p) => p.role === 'expert');
  const interpreter = others.find((p) => p.role === 'interpreter');
  const parts = [t('call.at', { point: session.servicePoint })];
  if (interpreter) parts.push(t('call.with_interpreter'));
  if (otherExpert) parts.push(t('call.with_expert', { agency: t(`agency.${otherExpert.organisation}`) }));
  byId('call-state').textContent = parts.join(' · ');
  // After a transfer, the first expert leaves once the new one has joined.
  byId('leave').hidden = !(app.transferring || otherExpert);
}

function renderQueue() {
  const container = byId('queue');
  const entries = app.queue.entries;
  if (entries.length === 0) {
    container.replaceChildren(h('p', { class: 'muted' }, t('queue.empty')));
    return;
  }
  container.replaceChildren(
    h('table', {},
      h('caption', { class: 'visually-hidden' }, t('queue.title')),
      h('thead', {}, h('tr', {}, ...['point', 'language', 'waiting', 'action'].map((c) => h('th', { scope: 'col' }, t(`queue.${c}`))))),
      h('tbody', {}, ...entries.map((entry) =>
        h('tr', { 'data-room': entry.room },
          h('td', {}, entry.service_point),
          h('td', {}, t(`lang.${entry.language}`)),
          h('td', { 'data-waiting': entry.waiting_seconds }, formatDuration(entry.waiting_seconds)),
          h('td', {}, h('button', {
            type: 'button',
            class: 'primary',
            onclick: async () => {
              if (!app.client) return;
              try {
                const reply = await app.client.request({ type: 'call_accept', room: entry.room });
                await enterRoom(reply.room);
              } catch (error) {
                showError(error);
              }
            },
          }, t('queue.take'))),
        ))),
    ),
  );
}

/** Waiting times tick between snapshots. */
function renderQueueTimes() {
  const elapsed = Math.floor((Date.now() - app.queue.at) / 1000);
  for (const cell of byId('queue').querySelectorAll('td[data-waiting]')) {
    cell.textContent = formatDuration(Number(cell.getAttribute('data-waiting')) + elapsed);
  }
}

/** @param {ReturnType<typeof bookingApi>} api */
async function loadBookings(api) {
  const start = new Date();
  start.setHours(0, 0, 0, 0);
  const end = new Date(start.getTime() + 24 * 3600 * 1000);
  try {
    app.bookings = await api.all('/appointments', { expert: app.subject, from: start.toISOString(), to: end.toISOString() });
  } catch (error) {
    showError(error);
  }
  renderBookings();
}

function renderBookings() {
  const container = byId('bookings');
  if (app.bookings.length === 0) {
    container.replaceChildren(h('p', { class: 'muted' }, t('bookings.none')));
    return;
  }
  container.replaceChildren(
    h('ul', { class: 'plain' }, ...app.bookings
      .slice()
      .sort((a, b) => a.starts_at.localeCompare(b.starts_at))
      .map((booking) => h('li', { 'data-appointment': booking.id },
        h('strong', {}, `${formatTime(booking.starts_at)}–${formatTime(booking.ends_at)}`), ' ',
        `${booking.service_point} · ${t(`lang.${booking.language}`)}`,
        booking.interpreter_language ? ` · ${t('role.interpreter')} (${t(`lang.${booking.interpreter_language}`)})` : '',
        ' ', h('span', { class: 'badge' }, t(`booking.status.${booking.status}`)),
      ))),
  );
}

function renderNotices() {
  byId('notices').replaceChildren(
    ...app.notices.map((text, index) => h('div', { class: 'offer', role: 'status' },
      h('p', {}, text),
      h('button', { type: 'button', onclick: () => { app.notices.splice(index, 1); renderNotices(); } }, t('notice.dismiss')),
    )),
  );
}

main().catch((error) => showError(error));
