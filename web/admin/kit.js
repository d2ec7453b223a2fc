// The admin page's form and table kit, shared by every section: labelled
// fields, entity forms with Save/Clear and an error region, the client-side
// checks that fill it, tables whose rows have an Edit button, and the small
// text formatters their cells use. It knows nothing of the directory.

import { formatNumber, locale, t } from '../shared/i18n.js';
import { announce, byId, h, replace } from '../shared/ui.js';

/** An id of a service or service point. */
export const ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;
/** A signed-in subject: a kiosk, expert or interpreter. */
export const SUBJECT_PATTERN = /^[A-Za-z0-9._:@-]{1,128}$/;
const LANGUAGE_PATTERN = /^[A-Za-z0-9-]{1,35}$/;

/** @typedef {{input: HTMLElement | null, message: string}} Problem */

/**
 * A table column: its header key and how a cell is made.
 * @template T
 * @typedef {{key: string, cell: (item: T) => Node | string}} Column
 */

// ---------------------------------------------------------------------------
// Small helpers

/** @param {string} id */
export function input(id) {
  return /** @type {HTMLInputElement} */ (byId(id));
}

/** @param {string} id */
export function select(id) {
  return /** @type {HTMLSelectElement} */ (byId(id));
}

/**
 * An element whose text is the message `key` (re-translated on language change).
 * @param {string} tag
 * @param {string} key
 * @param {Record<string, unknown>} [attributes]
 */
export function msg(tag, key, attributes = {}) {
  return h(tag, { ...attributes, 'data-i18n': key }, t(key));
}

/** @param {string} text */
export function capitalise(text) {
  return text ? text.charAt(0).toLocaleUpperCase(locale()) + text.slice(1) : text;
}

/** @param {string} tag */
function languageName(tag) {
  const key = `lang.${tag}`;
  return t(key) === key ? tag : t(key);
}

/** @param {string[]} tags */
export function languageList(tags) {
  return tags.map((tag) => `${languageName(tag)} (${tag})`).join(', ');
}

/** @param {string} text comma-separated tags */
function parseTags(text) {
  const tags = text
    .split(/[,\s]+/)
    .map((tag) => tag.trim())
    .filter(Boolean);
  return [...new Set(tags)];
}

/** @param {number} cents */
export function euros(cents) {
  return formatNumber(cents / 100, { style: 'currency', currency: 'EUR' });
}

// ---------------------------------------------------------------------------
// Form building

/**
 * A labelled field. `hint` (a message key) is linked with aria-describedby.
 * @param {string} id
 * @param {string} labelKey
 * @param {HTMLElement} control
 * @param {string} [hintKey]
 */
export function field(id, labelKey, control, hintKey) {
  control.id = id;
  const hint = hintKey ? msg('span', hintKey, { id: `${id}-hint`, class: 'hint' }) : null;
  if (hint) control.setAttribute('aria-describedby', hint.id);
  return h('div', { class: 'field' }, msg('label', labelKey, { for: id }), hint, control);
}

/**
 * @param {string} id
 * @param {string} labelKey
 * @param {{type?: string, required?: boolean, hint?: string, autocomplete?: string, [name: string]: unknown}} [options]
 */
export function textField(id, labelKey, options = {}) {
  const { type = 'text', required = false, hint, ...rest } = options;
  const control = h('input', { type, name: id, required, autocomplete: 'off', spellcheck: 'false', ...rest });
  return field(id, labelKey, control, hint);
}

/** @param {string} id @param {string} labelKey @param {string} [hintKey] */
export function selectField(id, labelKey, hintKey) {
  return field(id, labelKey, h('select', { name: id, required: true }), hintKey);
}

/** @param {string} id @param {string} labelKey */
export function checkboxField(id, labelKey) {
  return h('div', { class: 'field inline' }, h('input', { type: 'checkbox', id, name: id }), msg('label', labelKey, { for: id }));
}

/**
 * A form with a heading, fields, Save/Clear buttons and an error region.
 * @param {string} id
 * @param {string} headingKey
 * @param {Node[]} fields
 * @param {() => Promise<string | null>} save returns what was saved (for the announcement) or null when invalid
 * @param {{introKey?: string, onReset?: () => void}} [options]
 */
export function entityForm(id, headingKey, fields, save, options = {}) {
  const headingId = `${id}-heading`;
  const errors = h('div', { id: `${id}-errors`, class: 'form-errors', role: 'alert', tabindex: -1, hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary' }, msg('span', 'action.save'));
  const form = h(
    'form',
    { id, class: 'entity-form', novalidate: true, 'aria-labelledby': headingId },
    msg('h3', headingKey, { id: headingId }),
    options.introKey ? msg('p', options.introKey, { class: 'muted' }) : null,
    ...fields,
    h('div', { class: 'actions' }, submit, h('button', { type: 'reset' }, msg('span', 'action.clear'))),
    errors,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    submit.setAttribute('disabled', '');
    try {
      const what = await save();
      if (what !== null) {
        /** @type {HTMLFormElement} */ (form).reset();
        announce(t('saved', { what }));
      }
    } catch (error) {
      showProblem(errors, error);
    } finally {
      submit.removeAttribute('disabled');
    }
  });
  form.addEventListener('reset', () => {
    clearErrors(form);
    // After the browser has reset the values.
    window.setTimeout(() => options.onReset?.(), 0);
  });
  return form;
}

/** @param {HTMLElement} form */
export function clearErrors(form) {
  const errors = form.querySelector('.form-errors');
  if (errors) {
    errors.replaceChildren();
    errors.setAttribute('hidden', '');
  }
  for (const element of form.querySelectorAll('[aria-invalid]')) element.removeAttribute('aria-invalid');
}

/**
 * Shows client-side problems; returns true when there were none.
 * @param {string} formId
 * @param {Problem[]} problems
 */
export function reportProblems(formId, problems) {
  const errors = byId(`${formId}-errors`);
  if (!problems.length) return true;
  for (const problem of problems) problem.input?.setAttribute('aria-invalid', 'true');
  replace(errors, msg('p', 'form.fix'), h('ul', {}, ...problems.map((problem) => h('li', {}, problem.message))));
  errors.removeAttribute('hidden');
  (problems.find((problem) => problem.input)?.input ?? errors).focus();
  return false;
}

/**
 * Shows a server (problem+json) or network error in a form's error region.
 * @param {HTMLElement} errors
 * @param {unknown} error
 */
export function showProblem(errors, error) {
  const code = error && typeof error === 'object' && 'code' in error ? String(error.code) : 'internal';
  const detail = error instanceof Error ? error.message : String(error);
  const key = `error.${code}`;
  const text = t(key) === key ? t('error.generic', { code }) : t(key);
  replace(errors, h('p', {}, text), h('p', { class: 'problem-detail' }, t('error.detail', { code, detail })));
  errors.removeAttribute('hidden');
  errors.focus();
  announce(text);
  console.warn('silta admin:', code, error);
}

/**
 * Required text: trimmed value, or a problem.
 * @param {string} id
 * @param {string} labelKey
 * @param {Problem[]} problems
 */
export function required(id, labelKey, problems) {
  const control = input(id);
  const value = control.value.trim();
  if (!value) problems.push({ input: control, message: t('invalid.required', { field: t(labelKey) }) });
  return value;
}

/**
 * @param {string} id
 * @param {string} labelKey
 * @param {RegExp} pattern
 * @param {string} messageKey
 * @param {Problem[]} problems
 */
export function matching(id, labelKey, pattern, messageKey, problems) {
  const value = required(id, labelKey, problems);
  if (value && !pattern.test(value)) problems.push({ input: input(id), message: t(messageKey, { field: t(labelKey) }) });
  return value;
}

/**
 * Language tags from a text field.
 * @param {string} id
 * @param {string} labelKey
 * @param {Problem[]} problems
 * @param {boolean} atLeastOne
 */
export function languagesFrom(id, labelKey, problems, atLeastOne) {
  const tags = parseTags(input(id).value);
  if ((atLeastOne && !tags.length) || tags.some((tag) => !LANGUAGE_PATTERN.test(tag))) {
    problems.push({ input: input(id), message: t('invalid.languages', { field: t(labelKey) }) });
  }
  return tags;
}

/**
 * A euro amount (as typed, with `.` or `,`) in cents, or a problem.
 * @param {string} id
 * @param {string} labelKey
 * @param {Problem[]} problems
 */
export function centsFrom(id, labelKey, problems) {
  const text = input(id).value.trim().replace(/\s/g, '').replace(',', '.');
  if (!/^\d+(\.\d{1,2})?$/.test(text)) {
    problems.push({ input: input(id), message: t('invalid.money', { field: t(labelKey) }) });
    return 0;
  }
  return Math.round(Number(text) * 100);
}

// ---------------------------------------------------------------------------
// Tables

/**
 * A table with a caption; rows come from `renderRows`.
 * @param {string} id
 * @param {string} captionKey
 */
export function entityTable(id, captionKey) {
  const captionId = `${id}-caption`;
  return h(
    'div',
    { class: 'table-wrap', role: 'region', tabindex: 0, 'aria-labelledby': captionId },
    h('table', { id }, msg('caption', captionKey, { id: captionId }), h('thead'), h('tbody')),
  );
}

/**
 * @template T
 * @param {string} tableId
 * @param {Column<T>[]} columns the first column is the row header
 * @param {T[]} items
 * @param {(item: T) => string} nameOf for the Edit button's accessible name
 * @param {(item: T) => void} edit
 */
export function renderRows(tableId, columns, items, nameOf, edit) {
  const table = byId(tableId);
  const head = /** @type {HTMLElement} */ (table.querySelector('thead'));
  const body = /** @type {HTMLElement} */ (table.querySelector('tbody'));
  replace(
    head,
    h('tr', {}, ...columns.map((column) => h('th', { scope: 'col' }, t(column.key))), h('th', { scope: 'col' }, t('table.actions'))),
  );
  if (!items.length) {
    replace(body, h('tr', {}, h('td', { colspan: columns.length + 1, class: 'muted' }, t('table.empty'))));
    return;
  }
  replace(
    body,
    ...items.map((item) =>
      h(
        'tr',
        {},
        ...columns.map((column, index) => h(index === 0 ? 'th' : 'td', index === 0 ? { scope: 'row' } : {}, column.cell(item))),
        h(
          'td',
          {},
          h(
            'button',
            { type: 'button', class: 'small', onclick: () => edit(item) },
            t('action.edit'),
            h('span', { class: 'visually-hidden' }, ` ${nameOf(item)}`),
          ),
        ),
      ),
    ),
  );
}

/** @param {boolean} value */
export function yesNo(value) {
  return h('span', { class: `badge ${value ? 'good' : 'bad'}` }, t(value ? 'common.yes' : 'common.no'));
}

/**
 * Focuses a form after "Edit" filled it and says so.
 * @param {string} formId
 * @param {string} what
 * @param {boolean} [merged] a day's several time ranges were merged in the form
 */
export function editing(formId, what, merged = false) {
  const form = byId(formId);
  clearErrors(form);
  form.scrollIntoView({ block: 'start' });
  /** @type {HTMLElement | null} */ (form.querySelector('input, select'))?.focus();
  announce(merged ? `${t('editing', { what })} ${t('hours.merged')}` : t('editing', { what }));
}
