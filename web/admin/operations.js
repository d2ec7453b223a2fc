// The operations section: what is happening now, from the signal service's
// `GET /v1/operations` (with the admin's token) — the citizens waiting in
// each agency's on-demand queue and the longest wait, calls in progress,
// open sessions, live media nodes, and the connected kiosks by readiness and
// by the connection paths that work for them.
//
// The figures refresh every 5 s while the section is shown and the page is
// visible, never otherwise. While they cannot be had (no signal node runs
// the hub just now, the network, …) the section says so, keeps the last
// figures with their time, and keeps trying.
//
// The tables are not live regions. The page's polite status region says
// only what an admin would want to hear without looking: the number waiting
// or the calls in progress changed (at most once in 30 s, so a busy queue
// does not chatter), the figures became unavailable, or came back.

import { ApiError, apiError } from '../shared/api.js';
import { formatDateTime, formatNumber, locale, t } from '../shared/i18n.js';
import { announce, byId, h, replace } from '../shared/ui.js';
import { msg } from './kit.js';
import { directory, localName, tokens } from './store.js';

/**
 * One agency's on-demand queue.
 * @typedef {object} QueueFigure
 * @property {string} agency the agency's code
 * @property {number} waiting walk-in requests waiting
 * @property {number} longest_wait_seconds how long the longest-waiting request has waited
 */

/**
 * The connected kiosks by their latest self-test, and by the paths that work for them.
 * @typedef {{ready: number, degraded: number, failed: number, untested: number, udp: number, turn_udp: number, turn_tcp: number, turn_tls: number}} KioskFigures
 */

/**
 * What `GET /v1/operations` answers.
 * @typedef {object} Operations
 * @property {QueueFigure[]} queues agencies with someone waiting
 * @property {number} calls service sessions an expert has joined
 * @property {number} rooms open service sessions
 * @property {number | null} media_nodes live media nodes; null when the hub's node cannot tell
 * @property {KioskFigures} kiosks
 * @property {number} at_ms when, milliseconds since the Unix epoch
 */

const REFRESH_MS = 5_000;
/** The least time between two announcements of changed figures. */
const ANNOUNCE_GAP_MS = 30_000;

const READINESS = /** @type {const} */ ([
  ['ready', 'readiness.good'],
  ['degraded', 'readiness.degraded'],
  ['failed', 'readiness.failed'],
  ['untested', 'operations.untested'],
]);
const PATHS = /** @type {const} */ (['udp', 'turn_udp', 'turn_tcp', 'turn_tls']);

const state = {
  /** The section is shown. */
  shown: false,
  /** @type {Operations | null} the last figures */
  figures: null,
  /** @type {{code: string, detail: string} | null} why the last refresh failed; null when it did not */
  problem: null,
  /** The server refused the admin for good (403): no point in asking again. */
  refused: false,
  /** @type {number | undefined} the next refresh */
  timer: undefined,
  inFlight: false,
  /** @type {{summary: string, at: number} | null} what was last said of the figures; null until the first figures since the section was shown */
  announced: null,
};

// ---------------------------------------------------------------------------
// Refreshing

/** Starts or stops the refreshing: called whenever the shown section changes. @param {boolean} shown */
export function setOperationsShown(shown) {
  if (shown && !state.shown) state.announced = null;
  state.shown = shown;
  if (refreshing()) refreshNow();
  else stopRefreshing();
}

document.addEventListener('visibilitychange', () => {
  if (refreshing()) refreshNow();
  else stopRefreshing();
});

function refreshing() {
  return state.shown && document.visibilityState !== 'hidden' && !state.refused;
}

function refreshNow() {
  if (state.inFlight || state.timer !== undefined) return;
  refresh();
}

function stopRefreshing() {
  window.clearTimeout(state.timer);
  state.timer = undefined;
}

async function refresh() {
  state.timer = undefined;
  state.inFlight = true;
  const hadProblem = state.problem !== null;
  try {
    const figures = await fetchOperations();
    state.figures = figures;
    state.problem = null;
    renderOperations();
    const change = changeToSay(figures);
    sayIfShown([hadProblem ? t('operations.available') : '', change].filter(Boolean).join(' '));
  } catch (error) {
    const code = error && typeof error === 'object' && 'code' in error ? String(error.code) : 'unavailable';
    const detail = error instanceof Error ? error.message : String(error);
    state.problem = { code, detail };
    if (error instanceof ApiError && error.status === 403) state.refused = true;
    renderOperations();
    if (!hadProblem) sayIfShown(problemText(code));
    console.warn('silta admin: operations:', code, error);
  } finally {
    state.inFlight = false;
    if (refreshing()) state.timer = window.setTimeout(refresh, REFRESH_MS);
  }
}

/** @returns {Promise<Operations>} */
async function fetchOperations() {
  // A request that hangs must not stop the refreshing: it gives up in 10 s.
  const response = await fetch(new URL('/v1/operations', location.origin), {
    headers: { authorization: `Bearer ${await tokens.get()}` },
    cache: 'no-store',
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok) throw await apiError(response);
  return readOperations(await response.json());
}

/**
 * The figures of a reply, each a count (a missing or odd one reads 0).
 * @param {any} body
 * @returns {Operations}
 */
function readOperations(body) {
  /** @param {unknown} value */
  const count = (value) => (typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0);
  const kiosks = body?.kiosks ?? {};
  return {
    queues: (Array.isArray(body?.queues) ? body.queues : [])
      .filter((/** @type {any} */ queue) => typeof queue?.agency === 'string')
      .map((/** @type {any} */ queue) => ({ agency: queue.agency, waiting: count(queue.waiting), longest_wait_seconds: count(queue.longest_wait_seconds) })),
    calls: count(body?.calls),
    rooms: count(body?.rooms),
    media_nodes: typeof body?.media_nodes === 'number' ? count(body.media_nodes) : null,
    kiosks: {
      ready: count(kiosks.ready),
      degraded: count(kiosks.degraded),
      failed: count(kiosks.failed),
      untested: count(kiosks.untested),
      udp: count(kiosks.udp),
      turn_udp: count(kiosks.turn_udp),
      turn_tcp: count(kiosks.turn_tcp),
      turn_tls: count(kiosks.turn_tls),
    },
    at_ms: typeof body?.at_ms === 'number' ? body.at_ms : Date.now(),
  };
}

// ---------------------------------------------------------------------------
// Announcing

/** Says `text` (when there is any) while the section is on the screen. @param {string} text */
function sayIfShown(text) {
  if (text && state.shown && document.visibilityState !== 'hidden') announce(text);
}

/**
 * The number waiting and the calls in progress, to be said when either
 * changed since it was last said — not on the first figures after the
 * section is shown (they are on the screen), and at most once in 30 s;
 * otherwise ''.
 * @param {Operations} figures
 */
function changeToSay(figures) {
  const waiting = totalWaiting(figures);
  const summary = `${waiting}/${figures.calls}`;
  if (state.announced === null || !state.shown) {
    // What the admin sees as the section opens; the first change is said at once.
    state.announced = { summary, at: 0 };
    return '';
  }
  const now = Date.now();
  if (summary === state.announced.summary || now - state.announced.at < ANNOUNCE_GAP_MS) return '';
  state.announced = { summary, at: now };
  return t('operations.changed', { waiting: formatNumber(waiting), calls: formatNumber(figures.calls) });
}

// ---------------------------------------------------------------------------
// Formatting

/** @param {Operations} figures */
function totalWaiting(figures) {
  return figures.queues.reduce((sum, queue) => sum + queue.waiting, 0);
}

/** An agency's name in the current language with its code, e.g. "Verohallinto (VERO)"; the code alone for an agency the directory lacks. @param {string} code */
function agencyLabel(code) {
  const agency = directory.agencies.find((item) => item.code === code);
  const name = agency ? localName(agency.names) : '';
  return name ? `${name} (${code})` : code;
}

/**
 * A wait as minutes:seconds ("1:05"), and in words for screen readers.
 * @param {number} seconds
 */
function waitCell(seconds) {
  const minutes = Math.floor(seconds / 60);
  const rest = seconds % 60;
  /** @param {number} value @param {'minute' | 'second'} unit */
  const words = (value, unit) => new Intl.NumberFormat(locale(), { style: 'unit', unit, unitDisplay: 'long' }).format(value);
  const spoken = minutes ? `${words(minutes, 'minute')} ${words(rest, 'second')}` : words(rest, 'second');
  return h(
    'time',
    { datetime: `PT${minutes}M${rest}S` },
    h('span', { 'aria-hidden': 'true' }, `${minutes}:${String(rest).padStart(2, '0')}`),
    h('span', { class: 'visually-hidden' }, spoken),
  );
}

/** @param {number} atMs */
function clockTime(atMs) {
  return formatDateTime(atMs, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** @param {string} code */
function problemText(code) {
  if (code === 'forbidden') return t('operations.forbidden');
  if (code.startsWith('token_')) return t(`error.${code}`);
  return t('operations.unavailable');
}

// ---------------------------------------------------------------------------
// The section

/**
 * A table in a scrolling region named by its caption.
 * @param {string} id
 * @param {string} captionKey
 */
function figureTable(id, captionKey) {
  return h(
    'div',
    { class: 'table-wrap', role: 'region', tabindex: 0, 'aria-labelledby': `${id}-caption` },
    h('table', { id }, msg('caption', captionKey, { id: `${id}-caption` }), h('thead'), h('tbody'), h('tfoot')),
  );
}

export function operationsSection() {
  return [
    h('p', { id: 'operations-updated', class: 'operations-updated' }, t('operations.loading')),
    h('div', { id: 'operations-problem', class: 'notice', hidden: true }),
    h(
      'div',
      { id: 'operations-figures', class: 'operations-figures', hidden: true },
      msg('h3', 'operations.inBrief'),
      h('dl', { class: 'stats' }),
      msg('h3', 'operations.queues'),
      figureTable('operations-queues', 'operations.queuesCaption'),
      msg('h3', 'operations.kiosksHeading'),
      h('div', { class: 'grid' }, figureTable('operations-readiness', 'operations.readinessCaption'), figureTable('operations-paths', 'operations.pathsCaption')),
    ),
  ];
}

/** Draws the section from the last figures (or its loading or problem state). */
export function renderOperations() {
  const section = document.getElementById('operations');
  if (!section) return;
  const figures = state.figures;
  const problem = state.problem;
  section.dataset.state = problem ? 'unavailable' : figures ? 'ready' : 'loading';

  const updated = byId('operations-updated');
  if (figures) replace(updated, ...updatedText(figures.at_ms));
  else replace(updated, problem ? '' : t('operations.loading'));

  const box = byId('operations-problem');
  if (problem) {
    replace(
      box,
      h('p', {}, problemText(problem.code)),
      figures ? h('p', {}, t('operations.stale', { time: clockTime(figures.at_ms) })) : null,
      h('p', { class: 'problem-detail' }, t('error.detail', { code: problem.code, detail: problem.detail })),
    );
    box.removeAttribute('hidden');
  } else {
    replace(box);
    box.setAttribute('hidden', '');
  }

  const holder = byId('operations-figures');
  if (!figures) {
    holder.setAttribute('hidden', '');
    return;
  }
  holder.removeAttribute('hidden');
  renderBrief(figures);
  renderQueues(figures);
  renderKiosks(figures);
}

/**
 * "Updated at 14:03:25." with the time as a `<time>`.
 * @param {number} atMs
 */
function updatedText(atMs) {
  const time = clockTime(atMs);
  const [before, after = ''] = t('operations.updated', { time: '\u0000' }).split('\u0000');
  return [before, h('time', { datetime: new Date(atMs).toISOString(), 'data-at-ms': atMs }, time), after];
}

/** @param {Operations} figures */
function renderBrief(figures) {
  const kiosks = figures.kiosks;
  const connected = kiosks.ready + kiosks.degraded + kiosks.failed + kiosks.untested;
  /** @param {string} name @param {string} key @param {number | null} value */
  const item = (name, key, value) =>
    h(
      'div',
      { class: 'stat' },
      h('dt', {}, t(key)),
      h('dd', { 'data-figure': name, 'data-value': value ?? '' }, value === null ? t('operations.unknown') : formatNumber(value)),
    );
  replace(
    /** @type {HTMLElement} */ (byId('operations-figures').querySelector('dl')),
    item('waiting', 'operations.waiting', totalWaiting(figures)),
    item('calls', 'operations.calls', figures.calls),
    item('rooms', 'operations.rooms', figures.rooms),
    item('media_nodes', 'operations.mediaNodes', figures.media_nodes),
    item('kiosks', 'operations.kiosks', connected),
  );
}

/**
 * Every agency of the directory and any other with someone waiting: those
 * waiting first, the longest wait first; then the rest in directory order.
 * @param {Operations} figures
 */
function renderQueues(figures) {
  const table = byId('operations-queues');
  /** @type {Map<string, QueueFigure>} */
  const byAgency = new Map(figures.queues.map((queue) => [queue.agency, queue]));
  const waiting = [...figures.queues].filter((queue) => queue.waiting > 0).sort((a, b) => b.longest_wait_seconds - a.longest_wait_seconds || a.agency.localeCompare(b.agency));
  const idle = directory.agencies.map((agency) => agency.code).filter((code) => !(byAgency.get(code)?.waiting));
  const rows = [...waiting, ...idle.map((code) => ({ agency: code, waiting: 0, longest_wait_seconds: 0 }))];
  replace(
    /** @type {HTMLElement} */ (table.querySelector('thead')),
    h(
      'tr',
      {},
      h('th', { scope: 'col' }, t('field.agency')),
      h('th', { scope: 'col', class: 'number' }, t('operations.waitingColumn')),
      h('th', { scope: 'col', class: 'number' }, t('operations.longestWait')),
    ),
  );
  const body = /** @type {HTMLElement} */ (table.querySelector('tbody'));
  if (!rows.length) {
    replace(body, h('tr', {}, h('td', { colspan: 3, class: 'muted' }, t('operations.noneWaiting'))));
  } else {
    replace(
      body,
      ...rows.map((queue) =>
        h(
          'tr',
          { 'data-agency': queue.agency, class: queue.waiting ? null : 'muted' },
          h('th', { scope: 'row' }, agencyLabel(queue.agency)),
          h('td', { class: 'number', 'data-field': 'waiting', 'data-value': queue.waiting }, formatNumber(queue.waiting)),
          h('td', { class: 'number', 'data-field': 'longest_wait_seconds', 'data-value': queue.longest_wait_seconds }, queue.waiting ? waitCell(queue.longest_wait_seconds) : '–'),
        ),
      ),
    );
  }
  const longest = Math.max(0, ...figures.queues.map((queue) => (queue.waiting ? queue.longest_wait_seconds : 0)));
  const total = totalWaiting(figures);
  replace(
    /** @type {HTMLElement} */ (table.querySelector('tfoot')),
    h(
      'tr',
      { 'data-agency': '' },
      h('th', { scope: 'row' }, t('operations.allAgencies')),
      h('td', { class: 'number', 'data-field': 'waiting', 'data-value': total }, formatNumber(total)),
      h('td', { class: 'number', 'data-field': 'longest_wait_seconds', 'data-value': longest }, total ? waitCell(longest) : '–'),
    ),
  );
}

/** @param {Operations} figures */
function renderKiosks(figures) {
  const kiosks = figures.kiosks;
  const connected = kiosks.ready + kiosks.degraded + kiosks.failed + kiosks.untested;
  /**
   * @param {string} tableId
   * @param {string} firstKey
   * @param {[string, string, number][]} rows name, label, count
   * @param {boolean} total the rows add up to the kiosks connected (each kiosk has one readiness, but may have several paths)
   */
  const fill = (tableId, firstKey, rows, total) => {
    const table = byId(tableId);
    replace(
      /** @type {HTMLElement} */ (table.querySelector('thead')),
      h('tr', {}, h('th', { scope: 'col' }, t(firstKey)), h('th', { scope: 'col', class: 'number' }, t('operations.kioskCount'))),
    );
    replace(
      /** @type {HTMLElement} */ (table.querySelector('tbody')),
      ...rows.map(([name, label, count]) =>
        h('tr', { 'data-kiosks': name }, h('th', { scope: 'row' }, label), h('td', { class: 'number', 'data-value': count }, formatNumber(count))),
      ),
    );
    replace(
      /** @type {HTMLElement} */ (table.querySelector('tfoot')),
      total ? h('tr', {}, h('th', { scope: 'row' }, t('operations.connected')), h('td', { class: 'number', 'data-value': connected }, formatNumber(connected))) : null,
    );
  };
  fill('operations-readiness', 'operations.readiness', READINESS.map(([name, key]) => [name, t(key), kiosks[name]]), true);
  fill('operations-paths', 'operations.path', PATHS.map((name) => [name, t(`readiness.path.${name}`), kiosks[name]]), false);
}
