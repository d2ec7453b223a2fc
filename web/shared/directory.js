// The booking directory's names for the staff apps: agencies, services,
// service points, kiosks (and the languages interpreters cover), loaded once
// per page from the booking API and cached. One name per thing, in the
// viewer's language, so that every screen calls a thing the same.
//
// Agencies and services have names in fi/sv/en. A service point is named by
// its municipality (with the street address when two points share one). A
// kiosk has no name of its own: it is "<point>, kiosk <n>", numbered within
// its point in id order. Until the directory has loaded (or for an id it
// does not know) a name falls back to the id itself, never to a second,
// hand-written name.

import { language, t } from './i18n.js';

/** @typedef {import('../types/booking-api').Names} Names */
/** @typedef {import('../types/booking-api').Agency} Agency */
/** @typedef {import('../types/booking-api').Service} Service */
/** @typedef {import('../types/booking-api').ServicePoint} ServicePoint */
/** @typedef {import('../types/booking-api').Kiosk} Kiosk */
/** @typedef {Pick<import('../types/booking-api').Interpreter, 'id' | 'languages'>} Interpreter the languages one covers */

/** @param {Names | undefined} names */
function localName(names) {
  if (!names) return '';
  const lang = language();
  // Names are kept in fi, sv and en; another language (the kiosk's se) reads the Finnish.
  const own = lang === 'fi' || lang === 'sv' || lang === 'en' ? names[lang] : undefined;
  return own || names.fi || names.sv || names.en;
}

export class Directory extends EventTarget {
  constructor() {
    super();
    /** @type {Map<string, Agency>} */
    this.agencies = new Map();
    /** @type {Map<string, Service>} */
    this.services = new Map();
    /** @type {Map<string, ServicePoint>} */
    this.points = new Map();
    /** @type {Map<string, Kiosk>} */
    this.kiosks = new Map();
    /** @type {Interpreter[]} */
    this.interpreters = [];
    this.loaded = false;
    /** @type {Promise<Directory> | null} */
    this.loading = null;
  }

  /**
   * Loads the directory once per page; later calls share the first load
   * unless `refresh` is asked for. Fires `change` when names arrive.
   * @param {ReturnType<typeof import('./api.js').bookingApi>} api
   * @param {{refresh?: boolean}} [options]
   * @returns {Promise<Directory>}
   */
  load(api, options = {}) {
    if (this.loading && !options.refresh) return this.loading;
    this.loading = Promise.all([
      api.all('/agencies'),
      api.all('/services'),
      api.all('/service-points'),
      api.all('/kiosks'),
      // Interpreters are listed for the languages they cover, nothing else.
      api.all('/interpreters').catch(() => []),
    ]).then(
      ([agencies, services, points, kiosks, interpreters]) => {
        this.agencies = new Map(agencies.map((agency) => [agency.code, agency]));
        this.services = new Map(services.map((service) => [service.id, service]));
        this.points = new Map(points.map((point) => [point.id, point]));
        this.kiosks = new Map(kiosks.map((kiosk) => [kiosk.id, kiosk]));
        this.interpreters = interpreters.map((interpreter) => ({ id: interpreter.id, languages: interpreter.languages ?? [] }));
        this.loaded = true;
        this.dispatchEvent(new Event('change'));
        return this;
      },
      (error) => {
        this.loading = null;
        throw error;
      },
    );
    return this.loading;
  }

  /** @param {string | null | undefined} code */
  agencyName(code) {
    if (!code) return '';
    return localName(this.agencies.get(code)?.names) || code;
  }

  /** @param {string | null | undefined} id */
  serviceName(id) {
    if (!id) return '';
    return localName(this.services.get(id)?.names) || id;
  }

  /** @param {string | null | undefined} id */
  pointName(id) {
    if (!id) return '';
    const point = this.points.get(id);
    if (!point) return id;
    const namesake = [...this.points.values()].some((other) => other.id !== id && other.municipality === point.municipality);
    return namesake ? `${point.municipality}, ${point.address}` : point.municipality;
  }

  /** @param {string | null | undefined} id */
  kioskName(id) {
    if (!id) return '';
    const kiosk = this.kiosks.get(id);
    if (!kiosk) return id;
    const siblings = [...this.kiosks.values()]
      .filter((other) => other.service_point === kiosk.service_point)
      .map((other) => other.id)
      .sort();
    return t('directory.kiosk', { point: this.pointName(kiosk.service_point), number: siblings.indexOf(id) + 1 });
  }

  /** Agencies in code order. @returns {Agency[]} */
  agencyList() {
    return [...this.agencies.values()].sort((a, b) => a.code.localeCompare(b.code));
  }

  /** Service points by name. @returns {ServicePoint[]} */
  pointList() {
    return [...this.points.values()].sort((a, b) => this.pointName(a.id).localeCompare(this.pointName(b.id)));
  }

  /**
   * The services of an agency that can be served remotely.
   * @param {string} agency
   * @returns {Service[]}
   */
  remoteServicesOf(agency) {
    return [...this.services.values()].filter((service) => service.agency === agency && service.remote_capable);
  }

  /** Languages some interpreter covers, in a stable order. @returns {string[]} */
  interpreterLanguages() {
    return [...new Set(this.interpreters.flatMap((interpreter) => interpreter.languages))].sort();
  }
}

/** The page's directory: every module of a page shares it. */
export const directory = new Directory();
