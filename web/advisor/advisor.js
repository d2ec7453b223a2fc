// The service advisor: the point's kiosks, the week's appointments with
// booking, rescheduling, cancelling and check-in, walk-in requests, the
// identity-checked marker, hand-off and coming back. Appointment lists
// follow `appointments_changed` from the signal service, so a booking made
// elsewhere (another advisor, an expert) shows without a reload.

import { BookingPanel, appointmentActions, appointmentTime } from '../shared/booking.js';
import { directory } from '../shared/directory.js';
import { onLanguageChange, t } from '../shared/i18n.js';
import { CHOSEN_OUTCOMES, openRoom } from '../shared/session.js';
import { startStaffApp } from '../shared/staff.js';
import { readinessText } from '../shared/readiness.js';
import { announce, byId, chosenOf, h, showError } from '../shared/ui.js';
import { DOCUMENT_TYPES } from '../types/vocabulary.js';

/** @typedef {import('../types/wire').KioskStatus} KioskStatus */
/** @typedef {import('../types/wire').DocumentType} DocumentType */
/** @typedef {import('../types/wire').RoomState} RoomState */
/** @typedef {import('../types/booking-api').Appointment} Appointment */

const app = {
  /** @type {import('../shared/client.js').SignalClient | null} */
  client: null,
  /** @type {ReturnType<typeof import('../shared/api.js').bookingApi> | null} */
  api: null,
  /** @type {import('../shared/session.js').RoomSession | null} */
  session: null,
  /** @type {Map<string, KioskStatus>} */
  kiosks: new Map(),
  /** @type {Appointment[]} */
  appointments: [],
  /** @type {string | null} the appointment whose cancelling awaits a yes */
  confirmingCancel: null,
  /** @type {BookingPanel | null} */
  booking: null,
  /** @type {number | undefined} */
  reloadTimer: undefined,
  servicePoint: '',
  subject: '',
  /** @type {Map<string, string>} room → kiosk, for call-backs */
  callbacks: new Map(),
  /** @type {DocumentType | null} */
  identityChecked: null,
};
Object.assign(window, { siltaApp: app });

async function main() {
  const { tokens, claims, client, api } = await startStaffApp('advisor');
  app.client = client;
  app.servicePoint = String(claims.org ?? '');
  app.subject = tokens.subject;
  app.api = api;
  renderWho();
  client.on('kiosk_status', (status) => {
    app.kiosks.set(status.kiosk, status);
    renderKiosks();
  });
  client.on('advisor_called', (message) => {
    app.callbacks.set(message.room, message.kiosk);
    renderCallbacks();
    announce(t('callback.announce', { kiosk: directory.kioskName(message.kiosk) }));
  });
  client.on('queue_status', (message) => {
    if (message.room === app.session?.room) {
      byId('session-state').textContent = t('session.queued', { position: message.position });
    }
  });
  client.on('call_withdrawn', (message) => {
    if (message.room === app.session?.room) announce(t('request.withdrawn', { reason: message.reason }));
  });
  client.on('identity_checked', (message) => {
    if (message.room === app.session?.room) {
      app.identityChecked = message.document_type;
      renderSession();
    }
  });
  client.on('appointment_checked_in', () => scheduleReload());
  // Made, moved, cancelled or checked in anywhere: read the list again.
  client.on('appointments_changed', (message) => {
    if (!message.service_point || message.service_point === app.servicePoint) scheduleReload();
  });
  client.on('welcome', (welcome) => {
    app.kiosks = new Map((welcome.kiosks ?? []).map((k) => [k.kiosk, k]));
    renderKiosks();
    // Changes while the connection was down were not heard.
    scheduleReload();
  });
  const welcome = await client.connect();
  app.kiosks = new Map((welcome.kiosks ?? []).map((k) => [k.kiosk, k]));
  for (const room of welcome.rooms ?? []) await enterRoom(room);
  fillStaticSelects();
  wireForms();
  app.booking = new BookingPanel({
    api,
    root: byId('booking-panel'),
    servicePoint: app.servicePoint,
    onChanged: () => loadAppointments(),
  });
  const renderNames = () => {
    renderWho();
    fillAgencySelects();
    fillInterpreterLanguages();
    renderKiosks();
    renderAppointments();
    renderSession();
    renderCallbacks();
  };
  directory.addEventListener('change', renderNames);
  onLanguageChange(() => {
    document.title = t('app.title');
    fillStaticSelects();
    app.booking?.render();
    renderNames();
  });
  renderNames();
  await loadAppointments();
}

function renderWho() {
  const point = directory.pointName(app.servicePoint);
  byId('who').textContent = point ? `${t('signin.as', { subject: app.subject })} · ${point}` : t('signin.as', { subject: app.subject });
}

/** Coalesces a burst of change messages into one reload. */
function scheduleReload() {
  window.clearTimeout(app.reloadTimer);
  app.reloadTimer = window.setTimeout(() => loadAppointments(), 150);
}

function fillStaticSelects() {
  const documentSelect = /** @type {HTMLSelectElement} */ (byId('identity-document'));
  const chosen = documentSelect.value;
  documentSelect.replaceChildren(...DOCUMENT_TYPES.map((type) => h('option', { value: type }, t(`document.${type}`))));
  if (chosen) documentSelect.value = chosen;
  const outcome = /** @type {HTMLSelectElement} */ (byId('end-outcome'));
  const chosenOutcome = outcome.value;
  outcome.replaceChildren(...CHOSEN_OUTCOMES.map((code) => h('option', { value: code }, t(`outcome.${code}`))));
  if (chosenOutcome) outcome.value = chosenOutcome;
}

/**
 * The languages some interpreter of the directory covers; until the
 * directory has loaded (or when it lists none) only "no interpreter".
 */
function fillInterpreterLanguages() {
  const interpreter = /** @type {HTMLSelectElement} */ (byId('request-interpreter'));
  const chosen = interpreter.value;
  const languages = directory.interpreterLanguages();
  interpreter.replaceChildren(
    h('option', { value: '' }, t('request.no_interpreter')),
    ...languages.map((lang) => h('option', { value: lang }, t(`lang.${lang}`))),
  );
  interpreter.value = languages.includes(chosen) ? chosen : '';
}

function fillAgencySelects() {
  const agency = /** @type {HTMLSelectElement} */ (byId('request-agency'));
  const chosen = agency.value;
  const agencies = directory.agencyList();
  agency.replaceChildren(...agencies.map((a) => h('option', { value: a.code }, directory.agencyName(a.code))));
  if (chosen && agencies.some((a) => a.code === chosen)) agency.value = chosen;
  fillServices();
}

function fillServices() {
  const agency = /** @type {HTMLSelectElement} */ (byId('request-agency')).value;
  const service = /** @type {HTMLSelectElement} */ (byId('request-service'));
  const chosen = service.value;
  const services = directory.remoteServicesOf(agency);
  service.replaceChildren(...services.map((s) => h('option', { value: s.id }, directory.serviceName(s.id))));
  if (chosen && services.some((s) => s.id === chosen)) service.value = chosen;
  fillLanguages();
}

function fillLanguages() {
  const serviceId = /** @type {HTMLSelectElement} */ (byId('request-service')).value;
  const service = directory.services.get(serviceId);
  const languageSelect = /** @type {HTMLSelectElement} */ (byId('request-language'));
  const chosen = languageSelect.value;
  // The service's languages, from the directory (none until it has loaded).
  const languages = service?.languages ?? [];
  languageSelect.replaceChildren(...languages.map((lang) => h('option', { value: lang }, t(`lang.${lang}`))));
  if (chosen && languages.includes(chosen)) languageSelect.value = chosen;
}

function wireForms() {
  byId('request-agency').addEventListener('change', fillServices);
  byId('request-service').addEventListener('change', fillLanguages);
  byId('request-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const session = app.session;
    if (!session || !app.client) return;
    const agency = /** @type {HTMLSelectElement} */ (byId('request-agency')).value;
    const service = /** @type {HTMLSelectElement} */ (byId('request-service')).value;
    const language = /** @type {HTMLSelectElement} */ (byId('request-language')).value;
    const interpreter = /** @type {HTMLSelectElement} */ (byId('request-interpreter')).value;
    try {
      /** @type {import('../shared/client.js').ClientRequestOf<'expert_request'>} */
      const request = { type: 'expert_request', room: session.room, target: { by: 'queue', agency, language } };
      // The service travels with the offer, so the expert knows the matter.
      if (service) request.service = service;
      await app.client.request(request);
      byId('session-state').textContent = t('session.waiting');
      announce(t('request.sent', { agency: directory.agencyName(agency) }));
      if (interpreter) {
        await app.client.request({ type: 'interpreter_invite', room: session.room, target: { by: 'language', language: interpreter } });
        announce(t('request.interpreter_sent', { language: t(`lang.${interpreter}`) }));
      }
    } catch (error) {
      showError(error);
    }
  });
  byId('identity-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const session = app.session;
    if (!session || !app.client) return;
    const documentType = chosenOf('identity-document', DOCUMENT_TYPES);
    if (!documentType) return;
    try {
      await app.client.request({ type: 'identity_checked', room: session.room, document_type: documentType });
      app.identityChecked = documentType;
      renderSession();
      announce(t('identity.done', { document: t(`document.${documentType}`) }));
    } catch (error) {
      showError(error);
    }
  });
  byId('handoff').addEventListener('click', async () => {
    const session = app.session;
    if (!session || !app.client) return;
    try {
      await app.client.request({ type: 'leave', room: session.room });
      closeSession();
      announce(t('session.handed_off'));
      renderKiosks();
    } catch (error) {
      showError(error);
    }
  });
  byId('end-session').addEventListener('click', async () => {
    const session = app.session;
    if (!session || !app.client) return;
    const outcome = chosenOf('end-outcome', CHOSEN_OUTCOMES);
    if (!outcome) return;
    try {
      await app.client.request({ type: 'session_end', room: session.room, outcome });
    } catch (error) {
      showError(error);
    }
  });
}

async function loadAppointments() {
  if (!app.api || !app.servicePoint) return;
  const start = new Date();
  start.setHours(0, 0, 0, 0);
  // Today and the coming week, so the advisor can prepare.
  const end = new Date(start.getTime() + 8 * 24 * 3600 * 1000);
  try {
    app.appointments = await app.api.all('/appointments', {
      service_point: app.servicePoint,
      from: start.toISOString(),
      to: end.toISOString(),
    });
  } catch (error) {
    showError(error);
  }
  renderAppointments();
}

function renderAppointments() {
  const container = byId('appointments');
  // Cancelled ones only clutter the advisor's day.
  const shown = app.appointments.filter((appointment) => appointment.status !== 'cancelled');
  if (shown.length === 0) {
    container.replaceChildren(h('p', { class: 'muted' }, t('appointments.none')));
    return;
  }
  const rows = shown
    .slice()
    .sort((a, b) => a.starts_at.localeCompare(b.starts_at))
    .map((appointment) =>
      h('tr', { 'data-appointment': appointment.id, 'data-status': appointment.status },
        h('td', {}, appointmentTime(appointment.starts_at)),
        h('td', {}, directory.agencyName(appointment.agency), h('br'), h('span', { class: 'muted' }, directory.serviceName(appointment.service))),
        h('td', {}, t(`lang.${appointment.language}`), appointment.interpreter_language ? ` + ${t('role.interpreter')} (${t(`lang.${appointment.interpreter_language}`)})` : ''),
        h('td', {}, directory.kioskName(appointment.kiosk)),
        h('td', {}, t(`appointment.status.${appointment.status}`)),
        h('td', {}, appointment.status === 'booked' ? rowActions(appointment) : ''),
      ),
    );
  container.replaceChildren(h('div', { class: 'table-wrap' },
    h('table', {},
      h('caption', { class: 'visually-hidden' }, t('appointments.title')),
      h('thead', {}, h('tr', {},
        ...['time', 'agency', 'language', 'kiosk', 'status', 'action'].map((column) => h('th', { scope: 'col' }, t(`appointments.${column}`))))),
      h('tbody', {}, ...rows),
    ),
  ));
}

/**
 * Check in, reschedule and cancel (cancel asks once more, in the row).
 * @param {Appointment} appointment
 */
function rowActions(appointment) {
  if (!app.api) return null;
  return appointmentActions({
    appointment,
    api: app.api,
    panel: app.booking,
    confirming: app.confirmingCancel === appointment.id,
    setConfirming: (id) => {
      app.confirmingCancel = id;
      renderAppointments();
    },
    reload: loadAppointments,
    focus: (id, action) =>
      /** @type {HTMLElement | null} */ (document.querySelector(`tr[data-appointment="${id}"] [data-action="${action}"]`))?.focus(),
    leading: [h('button', { type: 'button', class: 'primary', 'data-action': 'check-in', onclick: () => checkIn(appointment) }, t('appointments.check_in'))],
  });
}

/** @param {Appointment} appointment */
async function checkIn(appointment) {
  if (!app.api || !app.client) return;
  try {
    const checked = await app.api.post(`/appointments/${encodeURIComponent(appointment.id)}/check-in`);
    await loadAppointments();
    const reply = await app.client.request({ type: 'session_open', kiosk: checked.kiosk, room: checked.room });
    await enterRoom(reply.room);
    await app.client.request({ type: 'expert_request', room: checked.room, target: { by: 'person', subject: checked.expert }, service: checked.service, language: checked.language });
    if (checked.interpreter) {
      await app.client.request({ type: 'interpreter_invite', room: checked.room, target: { by: 'person', subject: checked.interpreter } });
    }
    byId('session-state').textContent = t('session.waiting_booked');
    announce(t('appointments.checked_in'));
  } catch (error) {
    showError(error);
  }
}

function renderKiosks() {
  const list = byId('kiosks');
  const kiosks = [...app.kiosks.values()].sort((a, b) => a.kiosk.localeCompare(b.kiosk));
  if (kiosks.length === 0) {
    list.replaceChildren(h('li', { class: 'muted' }, t('kiosks.none')));
    return;
  }
  list.replaceChildren(
    ...kiosks.map((kiosk) => {
      // A kiosk whose self-test failed takes no citizens (the server
      // refuses it too); one that works with limits says which.
      const failed = kiosk.online && kiosk.readiness?.readiness === 'failed';
      const state = !kiosk.online ? 'offline' : kiosk.room ? 'busy' : failed ? 'out_of_service' : 'free';
      const badge = { offline: 'bad', busy: 'warn', free: 'good', out_of_service: 'bad' }[state];
      const mine = kiosk.room && app.session?.room === kiosk.room;
      /** @type {HTMLElement | string} */
      let action = '';
      if (state === 'free' && !app.session) {
        action = h('button', { type: 'button', class: 'primary', onclick: () => openSession(kiosk.kiosk) }, t('kiosks.start'));
      } else if (state === 'busy' && !mine && !app.session && kiosk.room) {
        const room = kiosk.room;
        action = h('button', { type: 'button', onclick: () => rejoin(room) }, t('kiosks.return'));
      }
      const check = kiosk.online && kiosk.readiness && kiosk.readiness.readiness !== 'ready'
        ? h('p', { class: 'kiosk-readiness', 'data-readiness': kiosk.readiness.readiness }, readinessText(kiosk.readiness))
        : '';
      return h('li', { 'data-kiosk': kiosk.kiosk, 'data-state': state, 'data-readiness': kiosk.readiness?.readiness ?? 'unknown' },
        h('strong', {}, directory.kioskName(kiosk.kiosk)), ' ',
        h('span', { class: `badge ${badge}` }, t(`kiosks.${state}`)), ' ',
        action, check);
    }),
  );
}

/** @param {string} kiosk */
async function openSession(kiosk) {
  if (!app.client) return;
  try {
    const reply = await app.client.request({ type: 'session_open', kiosk });
    await enterRoom(reply.room);
    announce(t('session.opened', { kiosk: directory.kioskName(kiosk) }));
    /** @type {HTMLElement} */ (byId('request-agency')).focus();
  } catch (error) {
    showError(error);
  }
}

/** @param {string} room */
async function rejoin(room) {
  if (!app.client) return;
  try {
    const reply = await app.client.request({ type: 'join', room });
    app.callbacks.delete(room);
    renderCallbacks();
    await enterRoom(reply.room);
    announce(t('session.returned'));
  } catch (error) {
    showError(error);
  }
}

/** @param {RoomState} state */
async function enterRoom(state) {
  if (!app.client || app.session?.room === state.room) return;
  app.session?.close();
  app.identityChecked = null;
  const view = {
    panel: byId('session-panel'),
    stage: byId('stage'),
    text: byId('live-text'),
    pinnable: true,
    quality: byId('quality'),
    primaryRoles: ['kiosk', 'expert', 'interpreter'],
    documents: { container: byId('documents'), role: /** @type {const} */ ('advisor') },
  };
  await openRoom(app.client, state, view, (session) => {
    app.session = session;
    session.addEventListener('change', renderSession);
    session.addEventListener('ended', (event) => {
      const { outcome } = /** @type {CustomEvent<import('../shared/client.js').ServerMessageOf<'session_ended'>>} */ (event).detail;
      closeSession();
      announce(t('session.ended', { outcome: t(`outcome.${outcome}`) }));
      renderKiosks();
    });
    session.addEventListener('lost', () => {
      closeSession();
      renderKiosks();
    });
    renderSession();
    renderKiosks();
  });
}

function closeSession() {
  app.session?.close();
  app.session = null;
}

function renderSession() {
  const session = app.session;
  if (!session) return;
  const expert = [...session.participants.values()].find((p) => p.role === 'expert');
  const state = byId('session-state');
  if (expert) state.textContent = t('session.in_service', { agency: directory.agencyName(expert.organisation) });
  else if (!state.textContent) state.textContent = t('session.check_in');
  byId('identity-state').textContent = app.identityChecked
    ? t('identity.done', { document: t(`document.${app.identityChecked}`) })
    : '';
  /** @type {HTMLButtonElement} */ (byId('request-submit')).disabled = Boolean(expert);
}

function renderCallbacks() {
  const container = byId('callbacks');
  container.replaceChildren(
    ...[...app.callbacks.entries()].map(([room, kiosk]) =>
      h('div', { class: 'offer', role: 'alert', 'data-callback': room },
        h('p', {}, t('callback.text', { kiosk: directory.kioskName(kiosk) })),
        h('button', { type: 'button', class: 'primary', onclick: () => rejoin(room) }, t('callback.return')),
        ' ',
        h('button', { type: 'button', onclick: () => { app.callbacks.delete(room); renderCallbacks(); } }, t('callback.dismiss')),
      ),
    ),
  );
}

main().catch((error) => showError(error));
