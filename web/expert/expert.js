// The agency expert: availability, the queue with waiting times, the
// agency's bookings of the week (booking, rescheduling and cancelling at a
// service point the expert picks), offers to accept, and in a call:
// microphone, camera, screen share, interpreter by language, transfer to
// another agency, end with an outcome. The bookings follow
// `appointments_changed` from the signal service without a reload.

import { BookingPanel, appointmentActions, appointmentTime } from '../shared/booking.js';
import { wireCallControls } from '../shared/controls.js';
import { directory } from '../shared/directory.js';
import { formatDuration, formatTime, onLanguageChange, t } from '../shared/i18n.js';
import { OfferList, wirePresence } from '../shared/offers.js';
import { CHOSEN_OUTCOMES, openRoom } from '../shared/session.js';
import { startStaffApp } from '../shared/staff.js';
import { announce, byId, chosenOf, h, showError } from '../shared/ui.js';

/** @typedef {import('../types/wire').QueueEntry} QueueEntry */
/** @typedef {import('../types/wire').RoomState} RoomState */
/** @typedef {import('../types/booking-api').Appointment} Appointment */

const app = {
  /** @type {import('../shared/client.js').SignalClient | null} */
  client: null,
  /** @type {import('../shared/session.js').RoomSession | null} */
  session: null,
  agency: '',
  subject: '',
  /** @type {{agency: string, entries: QueueEntry[], at: number}} */
  queue: { agency: '', entries: [], at: Date.now() },
  /** @type {ReturnType<typeof import('../shared/api.js').bookingApi> | null} */
  api: null,
  /** @type {Appointment[]} the agency's appointments of the week */
  bookings: [],
  /** @type {string | null} the appointment whose cancelling awaits a yes */
  confirmingCancel: null,
  /** @type {BookingPanel | null} */
  booking: null,
  /** @type {number | undefined} */
  reloadTimer: undefined,
  /** @type {string[]} */
  notices: [],
  transferring: false,
  /** @type {() => void} */
  resetControls: () => {},
};
Object.assign(window, { siltaApp: app });

async function main() {
  const { tokens, claims, client, api } = await startStaffApp('expert');
  app.client = client;
  app.agency = String(claims.org ?? '');
  app.subject = tokens.subject;
  app.api = api;
  new OfferList(client, byId('offers'), (room) => enterRoom(room));
  const renderPresence = wirePresence(client);
  client.on('queue_snapshot', (snapshot) => {
    app.queue = { agency: snapshot.agency, entries: snapshot.entries, at: Date.now() };
    renderQueue();
  });
  client.on('appointment_checked_in', (message) => {
    const notice = t('notice.checked_in', { point: directory.pointName(message.service_point) });
    app.notices.push(notice);
    renderNotices();
    announce(notice);
    scheduleReload();
  });
  // Made, moved, cancelled or checked in anywhere: read the list again.
  client.on('appointments_changed', (message) => {
    if (!message.agency || message.agency === app.agency) scheduleReload();
  });
  // Changes while the connection was down were not heard.
  client.on('welcome', () => scheduleReload());
  const welcome = await client.connect();
  for (const room of welcome.rooms ?? []) await enterRoom(room);
  fillSelects();
  wireControls();
  app.booking = new BookingPanel({
    api,
    root: byId('booking-panel'),
    agency: app.agency,
    self: app.subject,
    onChanged: () => loadBookings(),
  });
  byId('bookings-mine').addEventListener('change', renderBookings);
  const renderNames = () => {
    renderWho();
    fillSelects();
    renderQueue();
    renderBookings();
    renderNotices();
    renderCall();
  };
  directory.addEventListener('change', renderNames);
  onLanguageChange(() => {
    document.title = t('app.title');
    renderPresence();
    app.booking?.render();
    renderNames();
  });
  renderWho();
  renderQueue();
  window.setInterval(renderQueueTimes, 1000);
  await loadBookings();
}

function renderWho() {
  byId('who').textContent = `${t('signin.as', { subject: app.subject })} · ${directory.agencyName(app.agency)}`;
}

/** Coalesces a burst of change messages into one reload. */
function scheduleReload() {
  window.clearTimeout(app.reloadTimer);
  app.reloadTimer = window.setTimeout(() => loadBookings(), 150);
}

/** @param {HTMLSelectElement} select @param {readonly string[]} values @param {(v: string) => string} label */
function fill(select, values, label) {
  const chosen = select.value;
  select.replaceChildren(...values.map((value) => h('option', { value }, label(value))));
  if (chosen && values.includes(chosen)) select.value = chosen;
}

/**
 * The lists come from the directory (empty until it has loaded): the
 * languages some interpreter covers, the other agencies and the languages
 * of the chosen agency's remote services.
 */
function fillSelects() {
  fill(/** @type {HTMLSelectElement} */ (byId('end-outcome')), CHOSEN_OUTCOMES, (code) => t(`outcome.${code}`));
  fill(/** @type {HTMLSelectElement} */ (byId('interpreter-language')), directory.interpreterLanguages(), (lang) => t(`lang.${lang}`));
  const agencies = directory.agencyList().map((agency) => agency.code).filter((code) => code !== app.agency);
  fill(/** @type {HTMLSelectElement} */ (byId('transfer-agency')), agencies, (code) => directory.agencyName(code));
  fillTransferLanguages();
}

function fillTransferLanguages() {
  const agency = /** @type {HTMLSelectElement} */ (byId('transfer-agency')).value;
  const languages = [...new Set(directory.remoteServicesOf(agency).flatMap((service) => service.languages))];
  fill(/** @type {HTMLSelectElement} */ (byId('transfer-language')), languages, (lang) => t(`lang.${lang}`));
}

function wireControls() {
  app.resetControls = wireCallControls(() => app.session, { mute: byId('mute'), camera: byId('camera'), screen: byId('screen') });
  byId('transfer-agency').addEventListener('change', fillTransferLanguages);
  byId('interpreter-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!app.session || !app.client) return;
    const language = /** @type {HTMLSelectElement} */ (byId('interpreter-language')).value;
    if (!language) return;
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
    if (!agency || !language) return;
    try {
      await app.client.request({ type: 'transfer', room: app.session.room, target: { by: 'queue', agency, language } });
      app.transferring = true;
      renderCall();
      announce(t('transfer.requested', { agency: directory.agencyName(agency) }));
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
    const outcome = chosenOf('end-outcome', CHOSEN_OUTCOMES);
    if (!outcome) return;
    try {
      await app.client.request({ type: 'session_end', room: app.session.room, outcome });
    } catch (error) {
      showError(error);
    }
  });
}

/** @param {RoomState} state */
async function enterRoom(state) {
  if (!app.client || app.session?.room === state.room) return;
  app.session?.close();
  app.transferring = false;
  const view = { panel: byId('call-panel'), stage: byId('stage'), text: byId('live-text'), pinnable: true, quality: byId('quality'), primaryRoles: ['kiosk'], documents: { container: byId('documents'), role: /** @type {const} */ ('expert') } };
  await openRoom(app.client, state, view, (session) => {
    app.session = session;
    session.addEventListener('change', renderCall);
    session.addEventListener('ended', (event) => {
      const { outcome } = /** @type {CustomEvent<import('../shared/client.js').ServerMessageOf<'session_ended'>>} */ (event).detail;
      closeSession();
      announce(t('call.ended', { outcome: t(`outcome.${outcome}`) }));
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
  app.transferring = false;
}

function renderCall() {
  const session = app.session;
  if (!session) return;
  const others = [...session.participants.values()];
  const otherExpert = others.find((p) => p.role === 'expert');
  const interpreter = others.find((p) => p.role === 'interpreter');
  const parts = [t('call.at', { point: directory.pointName(session.servicePoint) })];
  if (interpreter) parts.push(t('call.with_interpreter'));
  if (otherExpert) parts.push(t('call.with_expert', { agency: directory.agencyName(otherExpert.organisation) }));
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
      h('thead', {}, h('tr', {}, ...['point', 'service', 'language', 'waiting', 'action'].map((c) => h('th', { scope: 'col' }, t(`queue.${c}`))))),
      h('tbody', {}, ...entries.map((entry) =>
        h('tr', { 'data-room': entry.room },
          h('td', {}, directory.pointName(entry.service_point)),
          h('td', {}, entry.service ? directory.serviceName(entry.service) : '–'),
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

/** The agency's appointments from the start of today for a week (the API limits an expert to their agency). */
async function loadBookings() {
  if (!app.api) return;
  const start = new Date();
  start.setHours(0, 0, 0, 0);
  const end = new Date(start.getTime() + 8 * 24 * 3600 * 1000);
  try {
    app.bookings = await app.api.all('/appointments', { agency: app.agency, from: start.toISOString(), to: end.toISOString() });
  } catch (error) {
    showError(error);
  }
  renderBookings();
}

function renderBookings() {
  const container = byId('bookings');
  const onlyMine = /** @type {HTMLInputElement} */ (byId('bookings-mine')).checked;
  const shown = app.bookings.filter((booking) => booking.status !== 'cancelled' && (!onlyMine || booking.expert === app.subject));
  if (shown.length === 0) {
    container.replaceChildren(h('p', { class: 'muted' }, t('bookings.none')));
    return;
  }
  container.replaceChildren(
    h('ul', { class: 'plain' }, ...shown
      .slice()
      .sort((a, b) => a.starts_at.localeCompare(b.starts_at))
      .map((booking) => h('li', { 'data-appointment': booking.id, 'data-status': booking.status },
        h('strong', {}, `${appointmentTime(booking.starts_at)}–${formatTime(booking.ends_at)}`), ' ',
        `${directory.serviceName(booking.service)} · ${directory.pointName(booking.service_point)} · ${t(`lang.${booking.language}`)}`,
        booking.interpreter_language ? ` · ${t('role.interpreter')} (${t(`lang.${booking.interpreter_language}`)})` : '',
        booking.expert === app.subject ? ` · ${t('bookings.yours')}` : ` · ${booking.expert}`,
        ' ', h('span', { class: 'badge' }, t(`booking.status.${booking.status}`)),
        booking.status === 'booked' ? bookingActions(booking) : null,
      ))),
  );
}

/**
 * Reschedule and cancel (cancel asks once more, in place).
 * @param {Appointment} booking
 */
function bookingActions(booking) {
  if (!app.api) return null;
  return appointmentActions({
    appointment: booking,
    api: app.api,
    panel: app.booking,
    confirming: app.confirmingCancel === booking.id,
    setConfirming: (id) => {
      app.confirmingCancel = id;
      renderBookings();
    },
    reload: loadBookings,
    focus: (id, action) =>
      /** @type {HTMLElement | null} */ (document.querySelector(`li[data-appointment="${id}"] [data-action="${action}"]`))?.focus(),
    className: 'row-actions actions',
  });
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
