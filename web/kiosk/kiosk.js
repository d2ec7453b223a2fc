// The kiosk: idle (language picker) → session opened by the advisor →
// waiting (queue position, estimated wait) → call (→ call-back to the
// advisor) → feedback → thanks → idle. Every screen says where the kiosk is
// and what is happening now; a lost connection covers the session with a
// notice until it is back. No login: the device credential is exchanged for
// short-lived tokens. The kiosk tests its devices and paths to the media
// node at start-up and while idle (selftest.js); one that fails shows its
// maintenance view instead of the welcome and is offered to no citizen.

import { ApiError, bookingApi } from '../shared/api.js';
import { directory } from '../shared/directory.js';
import { MAX_DOCUMENT } from '../shared/documents.js';
import { claimsOf, deviceCredential, demoIdentities, forgetDeviceCredential, kioskTokenSource, storeDeviceCredential } from '../shared/auth.js';
import { SignalClient } from '../shared/client.js';
import { LANGUAGE_NAMES, LANGUAGES, formatDuration, isLanguage, loadLanguages, onLanguageChange, setLanguage, t } from '../shared/i18n.js';
import { pathText, readinessBadge, readinessText } from '../shared/readiness.js';
import { openRoom } from '../shared/session.js';
import { announce, byId, h, setUpLanguagePicker, showConnectionState, showError } from '../shared/ui.js';
import { SELF_TEST_INTERVAL_MS, runSelfTest } from './selftest.js';

const CATALOGUES = './i18n/';
const LANGUAGE_KEY = 'silta.kiosk.language';
/** How long the thank-you screen stays before the kiosk is idle again. */
const THANKS_MS = 6000;

const FACES = [1, 2, 3, 4, 5].map((score) => ({ score, key: `feedback.score${score}` }));

/**
 * A face drawn in SVG (emoji fonts vary between kiosks): the mouth bends
 * from a frown (1) to a broad smile (5).
 * @param {number} score
 */
function face(score) {
  const ns = 'http://www.w3.org/2000/svg';
  /** @param {string} tag @param {Record<string, string | number>} attributes */
  const el = (tag, attributes) => {
    const node = document.createElementNS(ns, tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
    return node;
  };
  const svg = el('svg', { viewBox: '0 0 64 64', width: 64, height: 64, class: 'face', 'aria-hidden': 'true', focusable: 'false' });
  svg.append(
    el('circle', { cx: 32, cy: 32, r: 29, fill: 'none', stroke: 'currentColor', 'stroke-width': 4 }),
    el('circle', { cx: 22, cy: 25, r: 4, fill: 'currentColor' }),
    el('circle', { cx: 42, cy: 25, r: 4, fill: 'currentColor' }),
  );
  // Control point of the mouth: below the corners smiles, above frowns.
  const bend = [-10, -5, 0, 7, 14][score - 1];
  const corners = score === 3 ? 42 : 44;
  svg.append(el('path', { d: `M 19 ${corners} Q 32 ${corners + bend} 45 ${corners}`, fill: 'none', stroke: 'currentColor', 'stroke-width': 4, 'stroke-linecap': 'round' }));
  return svg;
}

/**
 * @typedef {object} KioskState
 * @property {SignalClient | null} client
 * @property {ReturnType<typeof bookingApi> | null} api
 * @property {import('../shared/session.js').RoomSession | null} session
 * @property {string | null} feedbackRoom
 * @property {number | null} score
 * @property {MediaStream | null} second
 * @property {string} screen
 * @property {import('../shared/i18n.js').Language} homeLanguage
 * @property {string | null} servicePointId
 * @property {boolean} advisorCalled
 * @property {string} mediaState
 * @property {import('../types/wire').KioskReadiness | null} readiness
 * @property {import('../types/wire').DeviceChecks | null} lastDevices
 * @property {boolean} testing
 * @property {boolean} maintenanceByHand
 * @property {string | null} kioskId
 * @property {boolean} largeDisplay
 * @property {AudioContext | null} audio
 * @property {string[]} cues
 */

/** @type {KioskState} */
const app = {
  client: null,
  api: null,
  session: null,
  feedbackRoom: null,
  score: null,
  second: null,
  screen: 'idle',
  /** The kiosk's own first language: the next citizen starts from it. */
  homeLanguage: 'fi',
  /** The service point this kiosk stands in (from its device credential). */
  servicePointId: null,
  /** The citizen has called the advisor back and the advisor is not here yet. */
  advisorCalled: false,
  /** The room's media connection (RTCPeerConnection.connectionState). */
  mediaState: 'new',
  /** The latest self-test as the signal service judged it. */
  readiness: null,
  /** What the latest self-test found of the devices. */
  lastDevices: null,
  /** A self-test is running. */
  testing: false,
  /** The maintenance view was opened from the idle screen (not by a failure). */
  maintenanceByHand: false,
  /** This kiosk's id (the subject of its device credential). */
  kioskId: null,
  /** Larger text and high contrast, chosen by the citizen for their session. */
  largeDisplay: false,
  /** Plays the audio cues (made when the first cue is due). */
  audio: null,
  /** The audio cues played, in order (for tests: no personal data). */
  cues: [],
};
// For tests and troubleshooting (no personal data lives here).
Object.assign(window, { siltaApp: app });

/** @param {string} name */
function show(name) {
  // The display the citizen chose lasts their session: the next one
  // starts with the usual one.
  if (name === 'idle' && (app.screen === 'session' || app.screen === 'feedback' || app.screen === 'thanks')) setLargeDisplay(false);
  app.screen = name;
  for (const screen of document.querySelectorAll('.screen')) {
    /** @type {HTMLElement} */ (screen).hidden = screen.id !== `screen-${name}`;
  }
  document.body.dataset.screen = name;
  renderConnectionNotice();
}

async function main() {
  // The kiosk speaks every language it has a catalogue for (fi, sv, en, se…).
  await loadLanguages(CATALOGUES);
  await setUpLanguagePicker(/** @type {HTMLSelectElement} */ (byId('language')), CATALOGUES, LANGUAGE_KEY);
  document.title = t('app.title');
  onLanguageChange(() => {
    document.title = t('app.title');
    renderServicePoint();
    renderLanguageButtons();
    renderFaces();
    renderSessionState();
    renderMaintenance();
  });
  renderLanguageButtons();
  renderFaces();
  wireButtons();

  const credential = deviceCredential();
  if (!credential) {
    await showProvisioning();
    return;
  }
  const claims = claimsOf(credential);
  const languages = claims.langs;
  const first = Array.isArray(languages) ? String(languages[0]) : 'fi';
  if (isLanguage(first)) app.homeLanguage = first;
  app.servicePointId = typeof claims.sp === 'string' ? claims.sp : null;
  app.kioskId = typeof claims.sub === 'string' ? claims.sub : null;
  // A credential revoked (or no longer valid) takes the kiosk out of
  // service at its next token exchange: forgotten, back to provisioning.
  const tokens = kioskTokenSource(credential, () => {
    forgetDeviceCredential();
    app.client?.close();
    location.reload();
  });
  app.api = bookingApi(tokens);
  const client = new SignalClient(tokens);
  app.client = client;
  showConnectionState(client);
  client.addEventListener('statechange', renderConnectionNotice);
  client.addEventListener('autherror', (event) => {
    const error = /** @type {CustomEvent<unknown>} */ (event).detail;
    const code = error && typeof error === 'object' && 'code' in error ? error.code : null;
    if (code === 'credential_revoked' || code === 'token_invalid') forgetDeviceCredential();
    showError(error);
  });
  client.on('joined', (message) => enterRoom(message.room));
  client.on('queue_status', (message) => {
    if (message.room !== app.session?.room) return;
    byId('queue').hidden = false;
    byId('queue-position').textContent = String(message.position);
    byId('queue-wait').textContent = formatDuration(message.estimated_wait_seconds);
    renderSessionState();
    announce(t('queue.announce', { position: message.position, wait: formatDuration(message.estimated_wait_seconds) }));
  });
  client.on('feedback_requested', (message) => askFeedback(message.room));
  client.on('call_withdrawn', (message) => {
    if (message.room === app.session?.room) announce(t('session.request_withdrawn'));
  });
  const welcome = await client.connect();
  show('idle');
  loadDirectoryNames();
  // After a reload within the resume window the session is still ours.
  for (const room of welcome.rooms ?? []) enterRoom(room);
  selfTest();
  // Again while idle: every SELF_TEST_INTERVAL_MS, every minute while out
  // of service (so a fixed kiosk comes back by itself).
  let lastTest = Date.now();
  window.setInterval(() => {
    const due = app.readiness?.readiness === 'failed' ? 60_000 : SELF_TEST_INTERVAL_MS;
    if (Date.now() - lastTest < due) return;
    lastTest = Date.now();
    selfTest();
  }, 15_000);
}

/**
 * Runs the self-test while the kiosk serves nobody, then shows the
 * maintenance view by itself when the kiosk cannot hold a call (and the
 * welcome again once it can).
 */
async function selfTest() {
  if (!app.client || app.testing || !['idle', 'maintenance'].includes(app.screen)) return;
  app.testing = true;
  document.body.dataset.selfTest = 'running';
  renderMaintenance();
  try {
    const { devices, readiness } = await runSelfTest(app.client);
    app.readiness = readiness;
    app.lastDevices = devices;
  } catch (error) {
    console.warn('silta: the self-test could not be completed', error);
  } finally {
    app.testing = false;
  }
  document.body.dataset.selfTest = app.readiness?.readiness ?? 'unknown';
  renderMaintenance();
  const failed = app.readiness?.readiness === 'failed';
  if (failed && app.screen === 'idle') show('maintenance');
  else if (!failed && app.screen === 'maintenance' && !app.maintenanceByHand) show('idle');
}

/** The maintenance view: the verdict, each device and each path. */
function renderMaintenance() {
  const readiness = app.readiness;
  const failed = readiness?.readiness === 'failed';
  byId('maintenance-verdict').textContent = app.testing
    ? t('maintenance.checking')
    : failed ? t('maintenance.out_of_service') : readinessBadge(readiness).label;
  byId('maintenance-problems').textContent = app.testing ? '' : readinessText(readiness);
  const devices = app.lastDevices;
  byId('maintenance-devices').replaceChildren(
    ...(devices ? /** @type {const} */ (['camera', 'microphone', 'document_camera']).map((device) =>
      h('li', { 'data-state': devices[device] === 'ok' ? 'good' : 'bad' },
        `${t(`maintenance.${device}`)}: ${t(`maintenance.device.${devices[device]}`)}`)) : []),
  );
  byId('maintenance-paths').replaceChildren(
    ...(readiness?.paths ?? []).map((check) => h('li', { 'data-state': check.works ? 'good' : 'bad', 'data-path': check.path }, pathText(check))),
  );
  byId('maintenance-time').textContent = readiness
    ? t('maintenance.checked_at', { time: new Date(readiness.checked_at_ms).toLocaleTimeString(document.documentElement.lang) })
    : '';
  // Out of service, there is nothing to go back to.
  byId('maintenance-close').hidden = failed;
  /** @type {HTMLButtonElement} */ (byId('maintenance-retest')).disabled = app.testing;
}

async function showProvisioning() {
  show('provision');
  const kiosks = await demoIdentities('kiosk');
  const options = byId('provision-options');
  options.replaceChildren(
    ...kiosks.map((kiosk) =>
      h('button', {
        type: 'button',
        class: 'primary',
        onclick: async () => {
          const response = await fetch('/dev/device-credential', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ subject: kiosk.subject }),
          });
          if (!response.ok) return showError({ code: 'credential_invalid' });
          storeDeviceCredential((await response.json()).credential);
          location.reload();
        },
      }, t('provision.as', { kiosk: kiosk.subject })),
    ),
  );
}

/**
 * Loads the directory's names (the service point, the agencies) the kiosk
 * shows; until they are known (or if the directory cannot be read) the
 * point's id and the agency's code stand in.
 */
async function loadDirectoryNames() {
  renderServicePoint();
  if (!app.api) return;
  directory.addEventListener('change', () => {
    renderServicePoint();
    renderSessionState();
  });
  try {
    await directory.load(app.api);
  } catch (error) {
    console.warn('silta: the directory could not be read', error);
  }
}

function renderServicePoint() {
  const name = app.servicePointId ? directory.pointName(app.servicePointId) : null;
  byId('service-point').textContent = name ? t('kiosk.service_point', { name }) : '';
}

function renderLanguageButtons() {
  byId('language-buttons').replaceChildren(
    ...LANGUAGES.map((lang) =>
      h('button', {
        type: 'button',
        lang,
        'aria-pressed': String(document.documentElement.lang === lang),
        onclick: async () => {
          localStorage.setItem(LANGUAGE_KEY, lang);
          /** @type {HTMLSelectElement} */ (byId('language')).value = lang;
          await setLanguage(lang, CATALOGUES);
          announce(t('idle.language_chosen'));
        },
      }, LANGUAGE_NAMES[lang]),
    ),
  );
}

function renderFaces() {
  byId('faces').replaceChildren(
    ...FACES.map(({ score, key }) =>
      h('button', {
        type: 'button',
        'data-score': score,
        'aria-pressed': String(app.score === score),
        onclick: () => {
          app.score = score;
          // Pressed states change in place, so keyboard focus stays put.
          for (const button of byId('faces').querySelectorAll('button')) {
            button.setAttribute('aria-pressed', String(button.getAttribute('data-score') === String(score)));
          }
          /** @type {HTMLButtonElement} */ (byId('feedback-send')).disabled = false;
          announce(t(key));
        },
      }, face(score), h('span', {}, t(key))),
    ),
  );
}

function wireButtons() {
  byId('call-advisor').addEventListener('click', async () => {
    if (!app.session || !app.client) return;
    try {
      await app.client.request({ type: 'advisor_call', room: app.session.room });
      app.advisorCalled = true;
      renderSessionState();
      announce(t('call.advisor_called'));
    } catch (error) {
      showError(error);
    }
  });
  byId('second-source').addEventListener('click', toggleSecondSource);
  byId('text-toggle').addEventListener('click', () => showText(byId('live-text').hidden));
  byId('display-mode').addEventListener('click', () => setLargeDisplay(!app.largeDisplay));
  byId('swap-tiles').addEventListener('click', () => {
    app.session?.view.swap();
    announce(t('call.swapped'));
  });
  byId('feedback-form').addEventListener('submit', (event) => {
    event.preventDefault();
    sendFeedback();
  });
  byId('feedback-skip').addEventListener('click', () => finishFeedback());
  byId('maintenance-open').addEventListener('click', () => {
    app.maintenanceByHand = true;
    show('maintenance');
    renderMaintenance();
    byId('maintenance-title').focus();
  });
  byId('maintenance-close').addEventListener('click', () => {
    app.maintenanceByHand = false;
    show('idle');
  });
  byId('maintenance-retest').addEventListener('click', () => selfTest());
}

/** @param {import('../types/wire').RoomState} state the room snapshot from `joined` or `welcome` */
async function enterRoom(state) {
  if (!app.client || app.session?.room === state.room) return;
  app.session?.close();
  // The admin's latest choices for this kiosk (its audio cues) apply from the next session on.
  if (app.api) directory.load(app.api, { refresh: true }).catch((error) => console.warn('silta: the directory could not be read', error));
  byId('queue').hidden = true;
  app.advisorCalled = false;
  app.mediaState = 'new';
  show('session');
  renderSessionState();
  const view = {
    panel: byId('screen-session'),
    stage: byId('stage'),
    quality: byId('quality'),
    primaryRoles: ['expert', 'interpreter'],
    text: byId('live-text'),
    keyboard: true,
    documents: { container: byId('documents'), role: /** @type {const} */ ('kiosk'), still: takeStill, email: emailDocument },
  };
  await openRoom(app.client, state, view, (session) => {
    app.session = session;
    // Text from the others opens the panel: a citizen who cannot hear
    // sees it without looking for it.
    session.text?.addEventListener('text', () => {
      if (byId('live-text').hidden) showText(true);
    });
    session.addEventListener('change', renderSessionState);
    session.media.addEventListener('connectionstatechange', (event) => {
      app.mediaState = /** @type {CustomEvent<string>} */ (event).detail;
      renderConnectionNotice();
    });
    session.addEventListener('ended', () => {
      cue('ended');
      leaveRoom();
    });
    session.listen('participant_joined', (message) => {
      if (message.participant.role === 'expert') cue('joined');
    });
    session.addEventListener('lost', () => {
      leaveRoom();
      show('idle');
    });
    renderSessionState();
    announce(t('session.started'));
  });
}

function leaveRoom() {
  app.second?.getTracks().forEach((track) => track.stop());
  app.second = null;
  byId('second-source').setAttribute('aria-pressed', 'false');
  showText(false);
  app.session?.close();
  app.session = null;
  app.advisorCalled = false;
  app.mediaState = 'new';
  renderConnectionNotice();
}

/**
 * The session screen in plain words: opened by the advisor (check_in),
 * waiting in the queue, in a call with the expert, or waiting for the
 * advisor the citizen called back (call_back). `body[data-phase]` names it.
 */
function renderSessionState() {
  if (app.screen !== 'session') return;
  const session = app.session;
  /** @param {string} role */
  const present = (role) => session?.has(role) ?? false;
  if (present('advisor')) app.advisorCalled = false;
  const inCall = present('expert');
  if (inCall) byId('queue').hidden = true;
  let phase;
  if (inCall) phase = app.advisorCalled ? 'call_back' : 'in_call';
  else if (!byId('queue').hidden) phase = 'waiting';
  else phase = app.advisorCalled ? 'call_back' : 'check_in';

  let status = phase === 'call_back' ? t('call.advisor_called') : t(`session.${phase}`);
  if (phase === 'in_call') {
    const expert = [...(session?.participants.values() ?? [])].find((info) => info.role === 'expert');
    const agency = expert ? directory.agencyName(expert.organisation) : '';
    if (agency) status = t('session.in_call_with', { agency });
  }
  byId('session-title').textContent = t(`session.heading.${phase}`);
  byId('session-state').textContent = status;
  // The advisor can be called back once they have left; a document is
  // shown to the expert.
  byId('call-advisor').hidden = !session || present('advisor') || app.advisorCalled;
  byId('second-source').hidden = !inCall;
  byId('text-toggle').hidden = !session;
  // Someone signs and two are large: the citizen may swap their places.
  byId('swap-tiles').hidden = !session || session.signing.size === 0 || !session.view.canSwap();
  document.body.dataset.phase = phase;
}

/**
 * Larger text and high contrast for the whole kiosk (one tap in the bar),
 * kept until the citizen's session is over.
 * @param {boolean} large
 */
function setLargeDisplay(large) {
  app.largeDisplay = large;
  if (large) document.body.dataset.display = 'large';
  else delete document.body.dataset.display;
  byId('display-mode').setAttribute('aria-pressed', String(large));
}

/**
 * An audio cue for people who cannot see the screen well: two rising tones
 * when the expert joins, two falling when the call ends. Played only when
 * the admin turned cues on for this kiosk (the directory's `audio_cues`).
 * @param {'joined' | 'ended'} kind
 */
function cue(kind) {
  if (!app.kioskId || directory.kiosks.get(app.kioskId)?.audio_cues !== true) return;
  try {
    app.audio ??= new AudioContext();
    const context = app.audio;
    const tones = kind === 'joined' ? [660, 880] : [880, 550];
    tones.forEach((frequency, index) => {
      const start = context.currentTime + index * 0.22;
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.3, start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.2);
      oscillator.connect(gain).connect(context.destination);
      oscillator.start(start);
      oscillator.stop(start + 0.21);
    });
    app.cues.push(kind);
  } catch (error) {
    console.warn('silta: an audio cue could not be played', error);
  }
}

/**
 * Opens or closes the live-text panel beside the video (one tap on
 * "Write"; it opens by itself when someone else writes).
 * @param {boolean} open
 */
function showText(open) {
  byId('live-text').hidden = !open;
  byId('text-toggle').setAttribute('aria-pressed', String(open));
  if (open) announce(t('call.text_opened'));
}

/**
 * The lost-connection notice: shown over the session while the signaling
 * connection is re-established or the room's media is interrupted, and
 * taken away as soon as both are back.
 */
function renderConnectionNotice() {
  const notice = byId('kiosk-reconnecting');
  const signalingLost = app.client?.state === 'reconnecting';
  const mediaLost = app.mediaState === 'disconnected' || app.mediaState === 'failed';
  const lost = app.screen === 'session' && (signalingLost || mediaLost);
  if (notice.hidden === !lost) return;
  notice.hidden = !lost;
  // The banner already speaks for the signaling connection; a media-only
  // interruption is said here.
  if (lost && !signalingLost) announce(t('connection.reconnecting'));
  if (!lost && app.client?.state === 'connected' && app.screen === 'session') announce(t('connection.connected'));
}

/** The widest the document camera's video is sent (its stills are whole). */
const DOCUMENT_VIDEO_WIDTH = 1280;

/**
 * A still of the document camera at its full resolution (not the video
 * layer the expert receives): JPEG, or null when the camera is off.
 * @returns {Promise<Uint8Array | null>}
 */
async function takeStill() {
  const track = app.second?.getVideoTracks()[0];
  if (!track || track.readyState !== 'live') return null;
  const { width = 0, height = 0 } = track.getSettings();
  const video = /** @type {HTMLVideoElement} */ (document.createElement('video'));
  video.muted = true;
  video.srcObject = new MediaStream([track]);
  await video.play();
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth || width;
  canvas.height = video.videoHeight || height;
  canvas.getContext('2d')?.drawImage(video, 0, 0, canvas.width, canvas.height);
  video.pause();
  video.srcObject = null;
  for (const quality of [0.92, 0.8, 0.6]) {
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', quality));
    if (blob instanceof Blob && blob.size <= MAX_DOCUMENT) return new Uint8Array(await blob.arrayBuffer());
  }
  return null;
}

/**
 * Sends a document the citizen was handed to the address they typed: used
 * for this message only (the booking service keeps neither).
 * @param {import('../shared/documents.js').ReceivedDocument} received
 * @param {string} address
 */
async function emailDocument(received, address) {
  if (!app.api) throw new Error('no booking service');
  let binary = '';
  for (let at = 0; at < received.bytes.length; at += 0x8000) {
    binary += String.fromCharCode(...received.bytes.subarray(at, at + 0x8000));
  }
  await app.api.post('/documents/email', { to: address, media_type: received.type, content: btoa(binary) });
}

async function toggleSecondSource() {
  const session = app.session;
  const button = byId('second-source');
  if (!session) return;
  if (app.second) {
    await session.media.setSecondSource(null);
    app.second.getTracks().forEach((track) => track.stop());
    app.second = null;
    button.setAttribute('aria-pressed', 'false');
    announce(t('call.document_camera_off'));
    return;
  }
  try {
    const devices = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput');
    const documentCamera = devices[1] ?? devices[0];
    // The document camera at the most it gives: a still is read at that
    // size, while the call's video of it is sent at most DOCUMENT_VIDEO_WIDTH wide.
    const most = { width: { ideal: 3840 }, height: { ideal: 2160 } };
    app.second = await navigator.mediaDevices.getUserMedia({
      video: documentCamera?.deviceId ? { deviceId: documentCamera.deviceId, ...most } : most,
    });
    await session.media.setSecondSource(app.second.getVideoTracks()[0] ?? null, { maxWidth: DOCUMENT_VIDEO_WIDTH });
    button.setAttribute('aria-pressed', 'true');
    announce(t('call.document_camera_on'));
  } catch (error) {
    showError({ code: 'camera', error });
  }
}

/** @param {string} room */
function askFeedback(room) {
  leaveRoom();
  app.feedbackRoom = room;
  app.score = null;
  renderFaces();
  /** @type {HTMLTextAreaElement} */ (byId('feedback-comment')).value = '';
  /** @type {HTMLButtonElement} */ (byId('feedback-send')).disabled = true;
  show('feedback');
  announce(t('feedback.title'));
  byId('feedback-title').focus?.();
}

async function sendFeedback() {
  if (!app.api || !app.feedbackRoom || app.score === null) return;
  const comment = /** @type {HTMLTextAreaElement} */ (byId('feedback-comment')).value.trim();
  const body = { room: app.feedbackRoom, score: app.score, comment: comment || null };
  // The session's record may still be on its way to the booking service.
  for (let attempt = 0; attempt < 5; attempt += 1) {
    try {
      await app.api.post('/feedback', body);
      break;
    } catch (error) {
      const code = error instanceof ApiError ? error.code : '';
      if (code === 'not_found' && attempt < 4) {
        await new Promise((resolve) => setTimeout(resolve, 400));
        continue;
      }
      if (code !== 'feedback_exists') showError(error);
      break;
    }
  }
  finishFeedback();
}

function finishFeedback() {
  app.feedbackRoom = null;
  app.score = null;
  show('thanks');
  announce(t('thanks.title'));
  window.setTimeout(() => {
    if (app.screen !== 'thanks') return;
    // The next citizen chooses again, starting from the kiosk's language.
    localStorage.removeItem(LANGUAGE_KEY);
    /** @type {HTMLSelectElement} */ (byId('language')).value = app.homeLanguage;
    setLanguage(app.homeLanguage, CATALOGUES).catch(showError);
    show('idle');
  }, THANKS_MS);
}

main().catch((error) => showError(error));
