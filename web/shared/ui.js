// Small DOM helpers shared by the apps: element building, the aria-live
// announcer, the language picker and the connection-state banner.

import { LANGUAGE_NAMES, LANGUAGES, isLanguage, language, setLanguage, t } from './i18n.js';

/**
 * Builds an element: `h('button', {class: 'primary', onclick: fn}, 'text')`.
 * Attributes starting with `on` become listeners; `null`/`false` are skipped.
 * @param {string} tag
 * @param {Record<string, unknown>} [attributes]
 * @param {...(Node | string | number | null | undefined | false)} children
 * @returns {HTMLElement}
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), /** @type {EventListener} */ (value));
    } else if (value === true) {
      element.setAttribute(name, '');
    } else {
      element.setAttribute(name, String(value));
    }
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === 'number' ? String(child) : child);
  }
  return element;
}

/**
 * The element with this id (throws if the page lacks it).
 * @param {string} id
 * @returns {HTMLElement}
 */
export function byId(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from the page`);
  return element;
}

/**
 * The chosen option of the select with this id when it is one of `values`
 * (the list the select was filled from), typed as they are; null otherwise.
 * @template {string} T
 * @param {string} id
 * @param {readonly T[]} values
 * @returns {T | null}
 */
export function chosenOf(id, values) {
  const chosen = /** @type {HTMLSelectElement} */ (byId(id)).value;
  return values.find((value) => value === chosen) ?? null;
}

/**
 * Replaces the children of `element`.
 * @param {Element} element
 * @param {...(Node | string | null | undefined | false)} children
 */
export function replace(element, ...children) {
  element.replaceChildren(...children.filter((child) => child !== null && child !== undefined && child !== false).map((c) => /** @type {Node | string} */ (c)));
}

/**
 * Says a state change to screen-reader users (the page's `#live` region)
 * and shows it in the visible status line when the page has one.
 * @param {string} message
 */
export function announce(message) {
  const live = document.getElementById('live');
  if (live) {
    // Clear first so the same message twice is read twice.
    live.textContent = '';
    window.setTimeout(() => {
      live.textContent = message;
    }, 30);
  }
  const status = document.getElementById('status-line');
  if (status) status.textContent = message;
}

/**
 * Fills a `<select>` with fi/sv/en and switches the page's language on change.
 * The choice is remembered in localStorage under `storageKey`.
 * @param {HTMLSelectElement} select
 * @param {string} catalogues the app's catalogue directory
 * @param {string} storageKey
 */
export async function setUpLanguagePicker(select, catalogues, storageKey) {
  const stored = localStorage.getItem(storageKey);
  const fromQuery = new URLSearchParams(location.search).get('lang');
  const initial = isLanguage(fromQuery) ? fromQuery : isLanguage(stored) ? stored : 'fi';
  select.replaceChildren(...LANGUAGES.map((lang) => h('option', { value: lang, lang }, LANGUAGE_NAMES[lang])));
  select.value = initial;
  select.addEventListener('change', async () => {
    if (!isLanguage(select.value)) return;
    localStorage.setItem(storageKey, select.value);
    await setLanguage(select.value, catalogues);
  });
  await setLanguage(initial, catalogues);
  return language();
}

/**
 * Reflects the signaling connection in a banner (`#connection`).
 * @param {import('./client.js').SignalClient} client
 */
export function showConnectionState(client) {
  const banner = document.getElementById('connection');
  const render = () => {
    if (!banner) return;
    const state = client.state;
    banner.dataset.state = state;
    banner.textContent = state === 'connected' ? '' : t(`connection.${state}`);
    banner.hidden = state === 'connected';
  };
  client.addEventListener('statechange', () => {
    render();
    if (client.state === 'reconnecting') announce(t('connection.reconnecting'));
    if (client.state === 'connected') announce(t('connection.connected'));
  });
  render();
}

/**
 * Shows an error to the user (status line + live region) and logs it.
 * @param {unknown} error
 */
export function showError(error) {
  const code = error && typeof error === 'object' && 'code' in error ? String(error.code) : 'internal';
  const key = `error.${code}`;
  const text = t(key) === key ? t('error.generic', { code }) : t(key);
  console.warn('silta:', code, error);
  announce(text);
}
