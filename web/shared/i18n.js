// Message catalogues and locale-aware formatting.
//
// Each page loads the shared catalogue (web/shared/i18n/<lang>.json) and its
// own (web/<app>/i18n/<lang>.json). Elements carry `data-i18n="key"` for
// their text and `data-i18n-attr="aria-label=key;placeholder=key"` for
// attributes; `t(key, params)` formats a message with `{name}` parameters.
//
// Every app speaks fi, sv and en. An app may speak more: each further
// language is one file in its own catalogue folder (the kiosk's Northern
// Sámi, `web/kiosk/i18n/se.json`) holding the app's keys and the shared
// ones it shows, with `language.name` (its name in itself) and
// `language.review` (`awaiting_review` until a native speaker signs it
// off). `loadLanguages` reads the folder's list from the server
// (`<app>/i18n/languages.json`).

/** A language tag with a catalogue: fi, sv, en, or an app's own (se). @typedef {string} Language */

/** The languages of this page, fi, sv and en first. @type {Language[]} */
export const LANGUAGES = ['fi', 'sv', 'en'];

/** @type {Record<string, string>} */
const LOCALES = { fi: 'fi-FI', sv: 'sv-FI', en: 'en-GB', se: 'se-FI', smn: 'smn-FI', sms: 'sms-FI' };

/** Display names, each in its own language. @type {Record<string, string>} */
export const LANGUAGE_NAMES = { fi: 'Suomi', sv: 'Svenska', en: 'English' };

/** Languages whose catalogue waits for a native speaker's review. @type {Set<string>} */
export const AWAITING_REVIEW = new Set();

/** The languages every catalogue folder has (the shared one too). */
const SHARED_LANGUAGES = ['fi', 'sv', 'en'];

/**
 * The languages an app has catalogues for, from the server; on failure the
 * page keeps fi, sv and en.
 * @param {string} appCatalogues URL of the app's catalogue directory (ending in `/`)
 * @returns {Promise<Array<{code: string, name: string, review: string}>>}
 */
export async function loadLanguages(appCatalogues) {
  try {
    const response = await fetch(new URL('languages.json', new URL(appCatalogues, document.baseURI)));
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    /** @type {Array<{code: string, name: string, review: string}>} */
    const listed = await response.json();
    const usable = listed.filter((language) => /^[a-z]{2,8}$/.test(language.code));
    if (SHARED_LANGUAGES.every((code) => usable.some((language) => language.code === code))) {
      LANGUAGES.splice(0, LANGUAGES.length, ...usable.map((language) => language.code));
      for (const language of usable) {
        LANGUAGE_NAMES[language.code] = language.name;
        if (language.review === 'awaiting_review') AWAITING_REVIEW.add(language.code);
        else AWAITING_REVIEW.delete(language.code);
      }
    }
    return usable;
  } catch (error) {
    console.warn('silta: the list of languages could not be read', error);
    return SHARED_LANGUAGES.map((code) => ({ code, name: LANGUAGE_NAMES[code], review: 'reviewed' }));
  }
}

/** Service points and agencies keep Finnish time. */
export const TIME_ZONE = 'Europe/Helsinki';

/** @type {Record<string, string>} */
let messages = {};
/** @type {Language} */
let current = 'fi';
/** @type {Set<() => void>} */
const listeners = new Set();

/**
 * @param {string | null | undefined} value
 * @returns {value is Language}
 */
export function isLanguage(value) {
  return LANGUAGES.includes(/** @type {Language} */ (value));
}

/** @returns {Language} */
export function language() {
  return current;
}

/** @returns {string} the BCP 47 locale of the current language */
export function locale() {
  return LOCALES[current] ?? current;
}

/**
 * Loads the catalogues of a language and re-translates the page.
 * @param {Language} lang
 * @param {string} appCatalogues URL of the app's catalogue directory (ending in `/`)
 */
export async function setLanguage(lang, appCatalogues) {
  const base = new URL('./i18n/', import.meta.url);
  // An app's own language has one file with every key it shows.
  const [shared, app] = await Promise.all([
    SHARED_LANGUAGES.includes(lang) ? fetchCatalogue(new URL(`${lang}.json`, base)) : {},
    fetchCatalogue(new URL(`${lang}.json`, new URL(appCatalogues, document.baseURI))),
  ]);
  messages = { ...shared, ...app };
  current = lang;
  document.documentElement.lang = lang;
  translate(document);
  for (const listener of listeners) listener();
}

/**
 * @param {() => void} listener called after every language change
 * @returns {() => void} stops calling it
 */
export function onLanguageChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** @param {URL} url */
async function fetchCatalogue(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`message catalogue ${url.pathname}: HTTP ${response.status}`);
  return /** @type {Record<string, string>} */ (await response.json());
}

/**
 * The message for `key`, with `{name}` replaced from `params`.
 * A missing key shows as the key itself (and is easy to spot).
 * @param {string} key
 * @param {Record<string, string | number>} [params]
 */
export function t(key, params = {}) {
  const template = messages[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/**
 * Translates `data-i18n` and `data-i18n-attr` under `root`.
 * @param {ParentNode} root
 */
export function translate(root) {
  for (const element of root.querySelectorAll('[data-i18n]')) {
    const key = element.getAttribute('data-i18n');
    if (key) element.textContent = t(key);
  }
  for (const element of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of (element.getAttribute('data-i18n-attr') ?? '').split(';')) {
      const [attribute, key] = pair.split('=').map((part) => part.trim());
      if (attribute && key) element.setAttribute(attribute, t(key));
    }
  }
}

/**
 * Date and time in the current locale, Finnish time.
 * @param {Date | string | number} value
 * @param {Intl.DateTimeFormatOptions} [options]
 */
export function formatDateTime(value, options = { dateStyle: 'medium', timeStyle: 'short' }) {
  return new Intl.DateTimeFormat(locale(), { timeZone: TIME_ZONE, ...options }).format(new Date(value));
}

/** @param {Date | string | number} value */
export function formatTime(value) {
  return formatDateTime(value, { hour: '2-digit', minute: '2-digit' });
}

/** @param {Date | string | number} value */
export function formatDate(value) {
  return formatDateTime(value, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
}

/**
 * A duration such as "3 min" or "45 s", in the current locale.
 * @param {number} seconds
 */
export function formatDuration(seconds) {
  const unit = seconds >= 90 ? 'minute' : 'second';
  const value = unit === 'minute' ? Math.round(seconds / 60) : Math.max(0, Math.round(seconds));
  return new Intl.NumberFormat(locale(), { style: 'unit', unit, unitDisplay: 'short' }).format(value);
}

/**
 * A number (e.g. euros) in the current locale.
 * @param {number} value
 * @param {Intl.NumberFormatOptions} [options]
 */
export function formatNumber(value, options = {}) {
  return new Intl.NumberFormat(locale(), options).format(value);
}
