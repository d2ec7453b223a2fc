// Message catalogues (fi, sv, en) and locale-aware formatting.
//
// Each page loads the shared catalogue (web/shared/i18n/<lang>.json) and its
// own (web/<app>/i18n/<lang>.json). Elements carry `data-i18n="key"` for
// their text and `data-i18n-attr="aria-label=key;placeholder=key"` for
// attributes; `t(key, params)` formats a message with `{name}` parameters.

/** @typedef {'fi' | 'sv' | 'en'} Language */

/** @type {Language[]} */
export const LANGUAGES = ['fi', 'sv', 'en'];

/** @type {Record<Language, string>} */
const LOCALES = { fi: 'fi-FI', sv: 'sv-FI', en: 'en-GB' };

/** Display names, each in its own language. */
export const LANGUAGE_NAMES = { fi: 'Suomi', sv: 'Svenska', en: 'English' };

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
  return LOCALES[current];
}

/**
 * Loads the catalogues of a language and re-translates the page.
 * @param {Language} lang
 * @param {string} appCatalogues URL of the app's catalogue directory (ending in `/`)
 */
export async function setLanguage(lang, appCatalogues) {
  const base = new URL('./i18n/', import.meta.url);
  const [shared, app] = await Promise.all([
    fetchCatalogue(new URL(`${lang}.json`, base)),
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
