// The admin page's copy of the directory (agencies, services, service
// points, kiosks, experts, interpreters, with everything an Edit form needs,
// unlike the names-only `shared/directory.js`), the booking API the sections
// write through (and the admin's tokens, which the operations view uses
// too), the names tables show for codes and ids, and the selects that offer
// the directory's agencies and service points.
//
// A section that saves calls `loadDirectory`; the page hears of the new
// directory through `onDirectoryLoaded` and redraws every section.

import { bookingApi } from '../shared/api.js';
import { language, t } from '../shared/i18n.js';
import { h } from '../shared/ui.js';
import { select, selectField } from './kit.js';

/** @typedef {import('./kit.js').Problem} Problem */

/** @typedef {import('../types/booking-api').Names} Names */
/** @typedef {import('../types/booking-api').Agency} Agency */
/** @typedef {import('../types/booking-api').Service} Service */
/** @typedef {import('../types/booking-api').ServicePoint} ServicePoint */
/** @typedef {import('../types/booking-api').Kiosk} Kiosk */
/** @typedef {import('../types/booking-api').Expert} Expert */
/** @typedef {import('../types/booking-api').Interpreter} Interpreter */

/** The booking API as the signed-in admin (set by `connectBookingApi`). @type {ReturnType<typeof bookingApi>} */
export let api;

/** The signed-in admin's access tokens (set by `connectBookingApi`), for the signal service's endpoints too. @type {import('../shared/auth.js').TokenSource} */
export let tokens;

/** @param {import('../shared/auth.js').TokenSource} source */
export function connectBookingApi(source) {
  tokens = source;
  api = bookingApi(source);
}

/** What the directory holds (empty until it has loaded). */
export const directory = {
  /** @type {Agency[]} */ agencies: [],
  /** @type {Service[]} */ services: [],
  /** @type {ServicePoint[]} */ points: [],
  /** @type {Kiosk[]} */ kiosks: [],
  /** @type {Expert[]} */ experts: [],
  /** @type {Interpreter[]} */ interpreters: [],
};

/** @type {(() => void)[]} */
const directoryListeners = [];

/**
 * Calls `listener` each time the directory has been (re)loaded.
 * @param {() => void} listener
 */
export function onDirectoryLoaded(listener) {
  directoryListeners.push(listener);
}

/** Loads the whole directory again, then tells the listeners. */
export async function loadDirectory() {
  const [agencies, services, points, kiosks, experts, interpreters] = await Promise.all([
    api.all('/agencies'),
    api.all('/services'),
    api.all('/service-points'),
    api.all('/kiosks'),
    api.all('/experts'),
    api.all('/interpreters'),
  ]);
  Object.assign(directory, { agencies, services, points, kiosks, experts, interpreters });
  for (const listener of directoryListeners) listener();
}

// ---------------------------------------------------------------------------
// Names

/** @param {Names | undefined} names */
export function localName(names) {
  if (!names) return '';
  const lang = language();
  // Names are kept in fi, sv and en; another language reads the Finnish.
  const own = lang === 'fi' || lang === 'sv' || lang === 'en' ? names[lang] : undefined;
  return own || names.fi || names.en || names.sv;
}

/**
 * The directory's name of an agency (the one name every app shows); the
 * code for an agency the directory no longer has.
 * @param {string} code
 */
export function agencyName(code) {
  const agency = directory.agencies.find((item) => item.code === code);
  return agency ? localName(agency.names) : code;
}

/** @param {string} id */
export function serviceName(id) {
  const service = directory.services.find((item) => item.id === id);
  return service ? localName(service.names) : id;
}

/** @param {string} id */
export function pointName(id) {
  const point = directory.points.find((item) => item.id === id);
  return point ? `${point.municipality} (${id})` : id;
}

// ---------------------------------------------------------------------------
// Selects of agencies and service points

/** Fills the agency and service-point selects from the directory. */
export function fillDirectorySelects() {
  for (const element of document.querySelectorAll('select[data-options]')) {
    const control = /** @type {HTMLSelectElement} */ (element);
    const previous = control.value;
    const kind = control.dataset.options;
    const options =
      kind === 'agencies'
        ? directory.agencies.map((agency) => h('option', { value: agency.code }, `${localName(agency.names)} (${agency.code})`))
        : directory.points.map((point) => h('option', { value: point.id }, `${point.municipality} (${point.id})`));
    control.replaceChildren(h('option', { value: '' }, t('select.choose')), ...options);
    control.value = previous;
  }
}

/**
 * @param {string} id
 * @param {string} labelKey
 * @param {'agencies' | 'points'} kind
 */
export function directorySelect(id, labelKey, kind) {
  const wrapper = selectField(id, labelKey);
  wrapper.querySelector('select')?.setAttribute('data-options', kind);
  return wrapper;
}

/**
 * @param {string} id
 * @param {string} labelKey
 * @param {'agencies' | 'points'} kind
 * @param {Problem[]} problems
 */
export function chosen(id, labelKey, kind, problems) {
  const control = select(id);
  const known = kind === 'agencies' ? directory.agencies.some((a) => a.code === control.value) : directory.points.some((p) => p.id === control.value);
  if (!control.value || !known) problems.push({ input: control, message: t('invalid.choose', { field: t(labelKey) }) });
  return control.value;
}
