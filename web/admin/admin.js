// Silta administration: the directory (agencies, services, service points
// with their opening hours, exceptions and holidays, kiosks, experts,
// interpreters, reimbursement agreements) and the monthly statistics.
//
// One section is shown at a time; the in-page navigation is a list of links
// (`#agencies`, …, `#statistics`) so the back button and bookmarks work.
// Writes are upserts (POST), so "Edit" fills the form and saving replaces.

import { bookingApi } from '../shared/api.js';
import { demoIdentities, demoTokenSource, requestedSubject } from '../shared/auth.js';
import { formatDateTime, formatDuration, formatNumber, language, locale, onLanguageChange, t, translate } from '../shared/i18n.js';
import { announce, byId, h, replace, setUpLanguagePicker } from '../shared/ui.js';

const CATALOGUES = './i18n/';
const LANGUAGE_KEY = 'silta.admin.language';

/** @typedef {{fi: string, sv: string, en: string}} Names */
/** @typedef {{code: string, names: Names}} Agency */
/** @typedef {{id: string, agency: string, names: Names, duration_minutes: number, languages: string[], remote_capable: boolean}} Service */
/** @typedef {{weekday: number, opens: string, closes: string}} WeekdayHours */
/** @typedef {{id: string, municipality: string, address: string, time_zone: string, opening_hours: WeekdayHours[]}} ServicePoint */
/** @typedef {{id: string, service_point: string, active: boolean}} Kiosk */
/** @typedef {{id: string, agency: string, languages: string[], services: string[], working_hours: WeekdayHours[]}} Expert */
/** @typedef {{id: string, languages: string[], working_hours: WeekdayHours[]}} Interpreter */
/**
 * @typedef {object} StatisticsRow
 * @property {string} month
 * @property {string} service_point
 * @property {string} agency
 * @property {number} transactions
 * @property {number} sessions
 * @property {number} mean_duration_seconds
 * @property {number} interpreter_sessions
 * @property {number | null} feedback_mean
 * @property {number} feedback_count
 * @property {number | null} reimbursement_cents
 */
/**
 * A table column: its header key and how a cell is made.
 * @template T
 * @typedef {{key: string, cell: (item: T) => Node | string}} Column
 */

const SECTIONS = ['agencies', 'services', 'points', 'kiosks', 'experts', 'interpreters', 'agreements', 'statistics'];
const WEEKDAYS = [1, 2, 3, 4, 5, 6, 7];

/** Agency colours: each ≥ 3:1 against white (most ≥ 4.5:1), told apart by pattern too. */
const CHART_COLOURS = ['#0b4f8a', '#b3541e', '#1c6e36', '#7b3fa0', '#a3161b', '#00707a', '#6b5d00', '#b0206e'];
const PATTERNS = ['solid', 'diagonal', 'dots', 'horizontal', 'vertical', 'cross'];

const ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;
const SUBJECT_PATTERN = /^[A-Za-z0-9._:@-]{1,128}$/;
const AGENCY_PATTERN = /^[A-Z0-9_]{1,32}$/;
const LANGUAGE_PATTERN = /^[A-Za-z0-9-]{1,35}$/;
const CLOCK_PATTERN = /^([01]\d|2[0-4]):([0-5]\d)$/;
const MONTH_PATTERN = /^\d{4}-(0[1-9]|1[0-2])$/;
const DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

/** @type {ReturnType<typeof bookingApi>} */
let api;

const state = {
  /** @type {Agency[]} */ agencies: [],
  /** @type {Service[]} */ services: [],
  /** @type {ServicePoint[]} */ points: [],
  /** @type {Kiosk[]} */ kiosks: [],
  /** @type {Expert[]} */ experts: [],
  /** @type {Interpreter[]} */ interpreters: [],
  /** @type {{from: string, to: string, rows: StatisticsRow[]} | null} */ statistics: null,
  section: 'agencies',
  /** @type {string | null} */ subject: null,
  signedIn: false,
};

// ---------------------------------------------------------------------------
// Small helpers

/** @param {string} id */
function input(id) {
  return /** @type {HTMLInputElement} */ (byId(id));
}

/** @param {string} id */
function select(id) {
  return /** @type {HTMLSelectElement} */ (byId(id));
}

/**
 * An element whose text is the message `key` (re-translated on language change).
 * @param {string} tag
 * @param {string} key
 * @param {Record<string, unknown>} [attributes]
 */
function msg(tag, key, attributes = {}) {
  return h(tag, { ...attributes, 'data-i18n': key }, t(key));
}

/** @param {string} text */
function capitalise(text) {
  return text ? text.charAt(0).toLocaleUpperCase(locale()) + text.slice(1) : text;
}

/**
 * A weekday's name (1 = Monday) in the current language.
 * @param {number} weekday
 * @param {'long' | 'short'} [width]
 */
function weekdayName(weekday, width = 'long') {
  // 2024-01-01 was a Monday.
  const date = Date.UTC(2024, 0, weekday, 12);
  return capitalise(new Intl.DateTimeFormat(locale(), { weekday: width, timeZone: 'UTC' }).format(date));
}

/**
 * A month's name and year, e.g. "tammikuu 2026".
 * @param {string} month `YYYY-MM`
 * @param {'long' | 'short'} [width]
 * @param {boolean} [capital] start with a capital (table cells)
 */
function monthLabel(month, width = 'long', capital = false) {
  const [year, number] = month.split('-').map(Number);
  const options = /** @type {Intl.DateTimeFormatOptions} */ ({ month: width, year: 'numeric', timeZone: 'UTC' });
  const text = new Intl.DateTimeFormat(locale(), options).format(Date.UTC(year, number - 1, 15));
  return capital ? capitalise(text) : text;
}

/** @param {Names | undefined} names */
function localName(names) {
  if (!names) return '';
  return names[language()] || names.fi || names.en || names.sv;
}

/**
 * The directory's name of an agency (the one name every app shows); the
 * code for an agency the directory no longer has.
 * @param {string} code
 */
function agencyName(code) {
  const agency = state.agencies.find((item) => item.code === code);
  return agency ? localName(agency.names) : code;
}

/** @param {string} id */
function serviceName(id) {
  const service = state.services.find((item) => item.id === id);
  return service ? localName(service.names) : id;
}

/** @param {string} id */
function pointName(id) {
  const point = state.points.find((item) => item.id === id);
  return point ? `${point.municipality} (${id})` : id;
}

/** @param {string} tag */
function languageName(tag) {
  const key = `lang.${tag}`;
  return t(key) === key ? tag : t(key);
}

/** @param {string[]} tags */
function languageList(tags) {
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

/** @param {string} clock `HH:MM` */
function minutesOf(clock) {
  const [hours, minutes] = clock.split(':').map(Number);
  return hours * 60 + minutes;
}

/** @param {string} zone */
function isTimeZone(zone) {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** @param {number} cents */
function euros(cents) {
  return formatNumber(cents / 100, { style: 'currency', currency: 'EUR' });
}

/** `YYYY-MM` of a date in Finnish time. */
function monthOf(date = new Date()) {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Helsinki', year: 'numeric', month: '2-digit' }).formatToParts(date);
  const year = parts.find((part) => part.type === 'year')?.value;
  const month = parts.find((part) => part.type === 'month')?.value;
  return `${year}-${month}`;
}

/**
 * The month `count` months after `month` (negative: before).
 * @param {string} month
 * @param {number} count
 */
function addMonths(month, count) {
  const [year, number] = month.split('-').map(Number);
  const index = year * 12 + (number - 1) + count;
  return `${Math.floor(index / 12)}-${String((index % 12) + 1).padStart(2, '0')}`;
}

/** @param {string} from @param {string} to */
function monthsBetween(from, to) {
  const months = [];
  for (let month = from; month <= to && months.length < 240; month = addMonths(month, 1)) months.push(month);
  return months;
}

/**
 * Weekly hours as compact text, e.g. "Ma–Pe 09:00–16:00".
 * @param {WeekdayHours[]} hours
 */
function hoursSummary(hours) {
  if (!hours.length) return t('hours.none');
  /** @type {Map<number, string>} */
  const byDay = new Map();
  for (const entry of [...hours].sort((a, b) => a.weekday - b.weekday || a.opens.localeCompare(b.opens))) {
    const interval = `${entry.opens}–${entry.closes}`;
    byDay.set(entry.weekday, byDay.has(entry.weekday) ? `${byDay.get(entry.weekday)}, ${interval}` : interval);
  }
  /** @type {{first: number, last: number, text: string}[]} */
  const groups = [];
  for (const weekday of WEEKDAYS) {
    const text = byDay.get(weekday);
    if (!text) continue;
    const previous = groups[groups.length - 1];
    if (previous && previous.last === weekday - 1 && previous.text === text) previous.last = weekday;
    else groups.push({ first: weekday, last: weekday, text });
  }
  return groups
    .map(({ first, last, text }) =>
      first === last ? `${weekdayName(first, 'short')} ${text}` : `${weekdayName(first, 'short')}–${weekdayName(last, 'short')} ${text}`,
    )
    .join('; ');
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
function field(id, labelKey, control, hintKey) {
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
function textField(id, labelKey, options = {}) {
  const { type = 'text', required = false, hint, ...rest } = options;
  const control = h('input', { type, name: id, required, autocomplete: 'off', spellcheck: 'false', ...rest });
  return field(id, labelKey, control, hint);
}

/** @param {string} id @param {string} labelKey @param {string} [hintKey] */
function selectField(id, labelKey, hintKey) {
  return field(id, labelKey, h('select', { name: id, required: true }), hintKey);
}

/** @param {string} id @param {string} labelKey */
function checkboxField(id, labelKey) {
  return h('div', { class: 'field inline' }, h('input', { type: 'checkbox', id, name: id }), msg('label', labelKey, { for: id }));
}

/**
 * Seven weekdays with opening and closing times; both empty = closed.
 * @param {string} prefix element id prefix
 * @param {string} legendKey
 */
function hoursFieldset(prefix, legendKey) {
  return h(
    'fieldset',
    { class: 'hours', id: `${prefix}-hours` },
    msg('legend', legendKey),
    msg('p', 'hours.hint', { class: 'hint', id: `${prefix}-hours-hint` }),
    h(
      'div',
      { class: 'hours-grid' },
      ...WEEKDAYS.map((weekday) =>
        h(
          'fieldset',
          { class: 'day' },
          h('legend', { 'data-weekday': weekday }, weekdayName(weekday)),
          h(
            'div',
            { class: 'day-times' },
            field(`${prefix}-opens-${weekday}`, 'hours.opens', h('input', { type: 'time', step: 900 })),
            field(`${prefix}-closes-${weekday}`, 'hours.closes', h('input', { type: 'time', step: 900 })),
          ),
        ),
      ),
    ),
  );
}

/**
 * Reads a weekly-hours fieldset; problems go to `problems`.
 * @param {string} prefix
 * @param {Problem[]} problems
 * @returns {WeekdayHours[]}
 */
function readHours(prefix, problems) {
  /** @type {WeekdayHours[]} */
  const hours = [];
  for (const weekday of WEEKDAYS) {
    const opensInput = input(`${prefix}-opens-${weekday}`);
    const closesInput = input(`${prefix}-closes-${weekday}`);
    const opens = opensInput.value.slice(0, 5);
    const closes = closesInput.value.slice(0, 5);
    const day = weekdayName(weekday);
    if (!opens && !closes) continue;
    if (!opens || !closes) {
      problems.push({ input: opens ? closesInput : opensInput, message: t('invalid.hoursPair', { day }) });
    } else if (!CLOCK_PATTERN.test(opens) || !CLOCK_PATTERN.test(closes)) {
      problems.push({ input: opensInput, message: t('invalid.hoursGrid', { day }) });
    } else if (minutesOf(opens) >= minutesOf(closes)) {
      problems.push({ input: closesInput, message: t('invalid.hoursOrder', { day }) });
    } else if (minutesOf(opens) % 15 || minutesOf(closes) % 15) {
      problems.push({ input: minutesOf(opens) % 15 ? opensInput : closesInput, message: t('invalid.hoursGrid', { day }) });
    } else {
      hours.push({ weekday, opens, closes });
    }
  }
  return hours;
}

/**
 * Fills a weekly-hours fieldset (one interval a day: a day with several
 * intervals is shown from its first opening to its last closing, and the
 * function returns true so the caller can warn).
 * @param {string} prefix
 * @param {WeekdayHours[]} hours
 */
function fillHours(prefix, hours) {
  let merged = false;
  for (const weekday of WEEKDAYS) {
    const day = hours.filter((entry) => entry.weekday === weekday).sort((a, b) => a.opens.localeCompare(b.opens));
    if (day.length > 1) merged = true;
    input(`${prefix}-opens-${weekday}`).value = day[0]?.opens ?? '';
    input(`${prefix}-closes-${weekday}`).value = day.length ? day.reduce((last, entry) => (entry.closes > last ? entry.closes : last), '') : '';
  }
  return merged;
}

/** @param {string} prefix @param {string} opens @param {string} closes */
function presetHours(prefix, opens, closes) {
  for (const weekday of WEEKDAYS) {
    input(`${prefix}-opens-${weekday}`).value = weekday <= 5 ? opens : '';
    input(`${prefix}-closes-${weekday}`).value = weekday <= 5 ? closes : '';
  }
}

/** @typedef {{input: HTMLElement | null, message: string}} Problem */

/**
 * A form with a heading, fields, Save/Clear buttons and an error region.
 * @param {string} id
 * @param {string} headingKey
 * @param {Node[]} fields
 * @param {() => Promise<string | null>} save returns what was saved (for the announcement) or null when invalid
 * @param {{introKey?: string, onReset?: () => void}} [options]
 */
function entityForm(id, headingKey, fields, save, options = {}) {
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
function clearErrors(form) {
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
function reportProblems(formId, problems) {
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
function showProblem(errors, error) {
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
function required(id, labelKey, problems) {
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
function matching(id, labelKey, pattern, messageKey, problems) {
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
function languagesFrom(id, labelKey, problems, atLeastOne) {
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
function centsFrom(id, labelKey, problems) {
  const text = input(id).value.trim().replace(/\s/g, '').replace(',', '.');
  if (!/^\d+(\.\d{1,2})?$/.test(text)) {
    problems.push({ input: input(id), message: t('invalid.money', { field: t(labelKey) }) });
    return 0;
  }
  return Math.round(Number(text) * 100);
}

/** Fills the agency, service-point and service selects from the directory. */
function refreshSelects() {
  for (const element of document.querySelectorAll('select[data-options]')) {
    const control = /** @type {HTMLSelectElement} */ (element);
    const previous = control.value;
    const kind = control.dataset.options;
    const options =
      kind === 'agencies'
        ? state.agencies.map((agency) => h('option', { value: agency.code }, `${localName(agency.names)} (${agency.code})`))
        : state.points.map((point) => h('option', { value: point.id }, `${point.municipality} (${point.id})`));
    control.replaceChildren(h('option', { value: '' }, t('select.choose')), ...options);
    control.value = previous;
  }
  renderExpertServices();
}

/**
 * @param {string} id
 * @param {string} labelKey
 * @param {'agencies' | 'points'} kind
 */
function directorySelect(id, labelKey, kind) {
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
function chosen(id, labelKey, kind, problems) {
  const control = select(id);
  const known = kind === 'agencies' ? state.agencies.some((a) => a.code === control.value) : state.points.some((p) => p.id === control.value);
  if (!control.value || !known) problems.push({ input: control, message: t('invalid.choose', { field: t(labelKey) }) });
  return control.value;
}

// ---------------------------------------------------------------------------
// Tables

/**
 * A table with a caption; rows come from `renderRows`.
 * @param {string} id
 * @param {string} captionKey
 */
function entityTable(id, captionKey) {
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
function renderRows(tableId, columns, items, nameOf, edit) {
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
function yesNo(value) {
  return h('span', { class: `badge ${value ? 'good' : 'bad'}` }, t(value ? 'common.yes' : 'common.no'));
}

/**
 * Focuses a form after "Edit" filled it and says so.
 * @param {string} formId
 * @param {string} what
 * @param {boolean} [merged] a day's several time ranges were merged in the form
 */
function editing(formId, what, merged = false) {
  const form = byId(formId);
  clearErrors(form);
  form.scrollIntoView({ block: 'start' });
  /** @type {HTMLElement | null} */ (form.querySelector('input, select'))?.focus();
  announce(merged ? `${t('editing', { what })} ${t('hours.merged')}` : t('editing', { what }));
}

// ---------------------------------------------------------------------------
// Sections: agencies

function agenciesSection() {
  return [
    entityTable('agencies-table', 'agencies.caption'),
    entityForm(
      'agency-form',
      'agencies.form',
      [
        textField('agency-code', 'field.agencyCode', { required: true, hint: 'hint.agencyCode', maxlength: 32, class: 'code' }),
        h(
          'fieldset',
          {},
          msg('legend', 'field.names'),
          h(
            'div',
            { class: 'grid compact' },
            textField('agency-name-fi', 'field.nameFi', { required: true, lang: 'fi' }),
            textField('agency-name-sv', 'field.nameSv', { required: true, lang: 'sv' }),
            textField('agency-name-en', 'field.nameEn', { required: true, lang: 'en' }),
          ),
        ),
      ],
      saveAgency,
    ),
  ];
}

async function saveAgency() {
  /** @type {Problem[]} */
  const problems = [];
  input('agency-code').value = input('agency-code').value.trim().toUpperCase();
  const code = matching('agency-code', 'field.agencyCode', AGENCY_PATTERN, 'invalid.agencyCode', problems);
  const names = {
    fi: required('agency-name-fi', 'field.nameFi', problems),
    sv: required('agency-name-sv', 'field.nameSv', problems),
    en: required('agency-name-en', 'field.nameEn', problems),
  };
  if (!reportProblems('agency-form', problems)) return null;
  await api.post('/agencies', { code, names });
  await loadDirectory();
  return code;
}

/** @param {Agency} agency */
function editAgency(agency) {
  input('agency-code').value = agency.code;
  input('agency-name-fi').value = agency.names.fi;
  input('agency-name-sv').value = agency.names.sv;
  input('agency-name-en').value = agency.names.en;
  editing('agency-form', agency.code);
}

function renderAgencies() {
  renderRows(
    'agencies-table',
    /** @type {Column<Agency>[]} */ ([
      { key: 'field.agencyCode', cell: (a) => a.code },
      { key: 'field.nameFi', cell: (a) => h('span', { lang: 'fi' }, a.names.fi) },
      { key: 'field.nameSv', cell: (a) => h('span', { lang: 'sv' }, a.names.sv) },
      { key: 'field.nameEn', cell: (a) => h('span', { lang: 'en' }, a.names.en) },
    ]),
    state.agencies,
    (a) => a.code,
    editAgency,
  );
}

// ---------------------------------------------------------------------------
// Services

function servicesSection() {
  return [
    entityTable('services-table', 'services.caption'),
    entityForm(
      'service-form',
      'services.form',
      [
        h(
          'div',
          { class: 'grid compact' },
          textField('service-id', 'field.serviceId', { required: true, hint: 'hint.id', maxlength: 64 }),
          directorySelect('service-agency', 'field.agency', 'agencies'),
        ),
        h(
          'fieldset',
          {},
          msg('legend', 'field.names'),
          h(
            'div',
            { class: 'grid compact' },
            textField('service-name-fi', 'field.nameFi', { required: true, lang: 'fi' }),
            textField('service-name-sv', 'field.nameSv', { required: true, lang: 'sv' }),
            textField('service-name-en', 'field.nameEn', { required: true, lang: 'en' }),
          ),
        ),
        h(
          'div',
          { class: 'grid compact' },
          textField('service-duration', 'field.duration', { type: 'number', required: true, min: 15, max: 480, step: 15, value: 30, hint: 'hint.duration', inputmode: 'numeric' }),
          textField('service-languages', 'field.languages', { required: true, hint: 'hint.languages' }),
        ),
        checkboxField('service-remote', 'field.remoteCapable'),
      ],
      saveService,
      { onReset: () => (input('service-remote').checked = true) },
    ),
  ];
}

async function saveService() {
  /** @type {Problem[]} */
  const problems = [];
  const id = matching('service-id', 'field.serviceId', ID_PATTERN, 'invalid.id', problems);
  const agency = chosen('service-agency', 'field.agency', 'agencies', problems);
  const names = {
    fi: required('service-name-fi', 'field.nameFi', problems),
    sv: required('service-name-sv', 'field.nameSv', problems),
    en: required('service-name-en', 'field.nameEn', problems),
  };
  const duration = Number(input('service-duration').value);
  if (!Number.isInteger(duration) || duration < 15 || duration > 480 || duration % 15) {
    problems.push({ input: input('service-duration'), message: t('invalid.duration', { field: t('field.duration') }) });
  }
  const languages = languagesFrom('service-languages', 'field.languages', problems, true);
  if (!reportProblems('service-form', problems)) return null;
  await api.post('/services', { id, agency, names, duration_minutes: duration, languages, remote_capable: input('service-remote').checked });
  await loadDirectory();
  return id;
}

/** @param {Service} service */
function editService(service) {
  input('service-id').value = service.id;
  select('service-agency').value = service.agency;
  input('service-name-fi').value = service.names.fi;
  input('service-name-sv').value = service.names.sv;
  input('service-name-en').value = service.names.en;
  input('service-duration').value = String(service.duration_minutes);
  input('service-languages').value = service.languages.join(', ');
  input('service-remote').checked = service.remote_capable;
  editing('service-form', service.id);
}

function renderServices() {
  renderRows(
    'services-table',
    /** @type {Column<Service>[]} */ ([
      { key: 'field.serviceId', cell: (s) => s.id },
      { key: 'field.name', cell: (s) => localName(s.names) },
      { key: 'field.agency', cell: (s) => agencyName(s.agency) },
      { key: 'field.duration', cell: (s) => t('duration.minutes', { minutes: formatNumber(s.duration_minutes) }) },
      { key: 'field.languages', cell: (s) => languageList(s.languages) },
      { key: 'field.remoteCapable', cell: (s) => yesNo(s.remote_capable) },
    ]),
    state.services,
    (s) => s.id,
    editService,
  );
}

// ---------------------------------------------------------------------------
// Service points, opening exceptions, holidays

function pointsSection() {
  return [
    entityTable('points-table', 'points.caption'),
    entityForm(
      'point-form',
      'points.form',
      [
        h(
          'div',
          { class: 'grid compact' },
          textField('point-id', 'field.pointId', { required: true, hint: 'hint.id', maxlength: 64 }),
          textField('point-municipality', 'field.municipality', { required: true }),
          textField('point-address', 'field.address', { required: true }),
          textField('point-time-zone', 'field.timeZone', { required: true, value: 'Europe/Helsinki', hint: 'hint.timeZone' }),
        ),
        hoursFieldset('point', 'points.openingHours'),
      ],
      savePoint,
      { onReset: () => presetHours('point', '09:00', '16:00') },
    ),
    h(
      'div',
      { class: 'grid' },
      entityForm(
        'exception-form',
        'exceptions.form',
        [
          directorySelect('exception-point', 'field.servicePoint', 'points'),
          textField('exception-date', 'field.date', { type: 'date', required: true }),
          h(
            'div',
            { class: 'grid compact' },
            textField('exception-opens', 'hours.opens', { type: 'time', step: 900 }),
            textField('exception-closes', 'hours.closes', { type: 'time', step: 900 }),
          ),
          textField('exception-reason', 'field.reason'),
        ],
        saveException,
        { introKey: 'exceptions.intro' },
      ),
      entityForm(
        'holiday-form',
        'holidays.form',
        [textField('holiday-date', 'field.date', { type: 'date', required: true }), textField('holiday-name', 'field.holidayName', { required: true })],
        saveHoliday,
        { introKey: 'holidays.intro' },
      ),
    ),
  ];
}

async function savePoint() {
  /** @type {Problem[]} */
  const problems = [];
  const id = matching('point-id', 'field.pointId', ID_PATTERN, 'invalid.id', problems);
  const municipality = required('point-municipality', 'field.municipality', problems);
  const address = required('point-address', 'field.address', problems);
  const timeZone = required('point-time-zone', 'field.timeZone', problems);
  if (timeZone && !isTimeZone(timeZone)) problems.push({ input: input('point-time-zone'), message: t('invalid.timeZone', { field: t('field.timeZone') }) });
  const openingHours = readHours('point', problems);
  if (!reportProblems('point-form', problems)) return null;
  await api.post('/service-points', { id, municipality, address, time_zone: timeZone, opening_hours: openingHours });
  await loadDirectory();
  return `${municipality} (${id})`;
}

/** @param {ServicePoint} point */
function editPoint(point) {
  input('point-id').value = point.id;
  input('point-municipality').value = point.municipality;
  input('point-address').value = point.address;
  input('point-time-zone').value = point.time_zone;
  const merged = fillHours('point', point.opening_hours);
  editing('point-form', point.id, merged);
}

function renderPoints() {
  renderRows(
    'points-table',
    /** @type {Column<ServicePoint>[]} */ ([
      { key: 'field.pointId', cell: (p) => p.id },
      { key: 'field.municipality', cell: (p) => p.municipality },
      { key: 'field.address', cell: (p) => p.address },
      { key: 'field.timeZone', cell: (p) => p.time_zone },
      { key: 'points.openingHours', cell: (p) => hoursSummary(p.opening_hours) },
    ]),
    state.points,
    (p) => p.id,
    editPoint,
  );
}

async function saveException() {
  /** @type {Problem[]} */
  const problems = [];
  const servicePoint = chosen('exception-point', 'field.servicePoint', 'points', problems);
  const date = required('exception-date', 'field.date', problems);
  if (date && !DATE_PATTERN.test(date)) problems.push({ input: input('exception-date'), message: t('invalid.date', { field: t('field.date') }) });
  const opens = input('exception-opens').value.slice(0, 5);
  const closes = input('exception-closes').value.slice(0, 5);
  const day = t('field.date');
  if (!!opens !== !!closes) {
    problems.push({ input: input(opens ? 'exception-closes' : 'exception-opens'), message: t('invalid.hoursPair', { day }) });
  } else if (opens && minutesOf(opens) >= minutesOf(closes)) {
    problems.push({ input: input('exception-closes'), message: t('invalid.hoursOrder', { day }) });
  }
  if (!reportProblems('exception-form', problems)) return null;
  const reason = input('exception-reason').value.trim();
  await api.post('/opening-exceptions', { service_point: servicePoint, date, opens: opens || null, closes: closes || null, reason });
  const when = formatDateTime(`${date}T12:00:00Z`, { dateStyle: 'long' });
  return opens ? t('exceptions.savedOpen', { point: pointName(servicePoint), date: when, opens, closes }) : t('exceptions.savedClosed', { point: pointName(servicePoint), date: when });
}

async function saveHoliday() {
  /** @type {Problem[]} */
  const problems = [];
  const date = required('holiday-date', 'field.date', problems);
  if (date && !DATE_PATTERN.test(date)) problems.push({ input: input('holiday-date'), message: t('invalid.date', { field: t('field.date') }) });
  const name = required('holiday-name', 'field.holidayName', problems);
  if (!reportProblems('holiday-form', problems)) return null;
  await api.post('/holidays', { date, name });
  return `${name} (${formatDateTime(`${date}T12:00:00Z`, { dateStyle: 'long' })})`;
}

// ---------------------------------------------------------------------------
// Kiosks

function kiosksSection() {
  return [
    entityTable('kiosks-table', 'kiosks.caption'),
    entityForm(
      'kiosk-form',
      'kiosks.form',
      [
        h(
          'div',
          { class: 'grid compact' },
          textField('kiosk-id', 'field.kioskId', { required: true, hint: 'hint.subject', maxlength: 128 }),
          directorySelect('kiosk-point', 'field.servicePoint', 'points'),
        ),
        checkboxField('kiosk-active', 'field.active'),
      ],
      saveKiosk,
      { onReset: () => (input('kiosk-active').checked = true) },
    ),
  ];
}

async function saveKiosk() {
  /** @type {Problem[]} */
  const problems = [];
  const id = matching('kiosk-id', 'field.kioskId', SUBJECT_PATTERN, 'invalid.subject', problems);
  const servicePoint = chosen('kiosk-point', 'field.servicePoint', 'points', problems);
  if (!reportProblems('kiosk-form', problems)) return null;
  await api.post('/kiosks', { id, service_point: servicePoint, active: input('kiosk-active').checked });
  await loadDirectory();
  return id;
}

/** @param {Kiosk} kiosk */
function editKiosk(kiosk) {
  input('kiosk-id').value = kiosk.id;
  select('kiosk-point').value = kiosk.service_point;
  input('kiosk-active').checked = kiosk.active;
  editing('kiosk-form', kiosk.id);
}

function renderKiosks() {
  renderRows(
    'kiosks-table',
    /** @type {Column<Kiosk>[]} */ ([
      { key: 'field.kioskId', cell: (k) => k.id },
      { key: 'field.servicePoint', cell: (k) => pointName(k.service_point) },
      { key: 'field.active', cell: (k) => yesNo(k.active) },
    ]),
    state.kiosks,
    (k) => k.id,
    editKiosk,
  );
}

// ---------------------------------------------------------------------------
// Experts

function expertsSection() {
  const agency = directorySelect('expert-agency', 'field.agency', 'agencies');
  agency.querySelector('select')?.addEventListener('change', () => renderExpertServices());
  return [
    entityTable('experts-table', 'experts.caption'),
    entityForm(
      'expert-form',
      'experts.form',
      [
        h(
          'div',
          { class: 'grid compact' },
          textField('expert-id', 'field.staffId', { required: true, hint: 'hint.subject', maxlength: 128 }),
          agency,
          textField('expert-languages', 'field.languages', { required: true, hint: 'hint.languages' }),
        ),
        h('fieldset', { id: 'expert-services' }, msg('legend', 'field.services'), h('div', { id: 'expert-services-list', class: 'checks' })),
        hoursFieldset('expert', 'field.workingHours'),
      ],
      saveExpert,
      {
        onReset: () => {
          presetHours('expert', '08:00', '16:00');
          renderExpertServices([]);
        },
      },
    ),
  ];
}

/**
 * The checkboxes of the selected agency's services.
 * @param {string[]} [checked] default: keep what is checked
 */
function renderExpertServices(checked) {
  const list = document.getElementById('expert-services-list');
  if (!list) return;
  const keep = checked ?? [...list.querySelectorAll('input:checked')].map((box) => /** @type {HTMLInputElement} */ (box).value);
  const agency = select('expert-agency').value;
  const services = state.services.filter((service) => service.agency === agency);
  if (!agency || !services.length) {
    replace(list, h('p', { class: 'muted' }, t(agency ? 'experts.noServices' : 'experts.chooseAgency')));
    return;
  }
  replace(
    list,
    ...services.map((service) =>
      h(
        'div',
        { class: 'field inline' },
        h('input', { type: 'checkbox', id: `expert-service-${service.id}`, value: service.id, checked: keep.includes(service.id) }),
        h('label', { for: `expert-service-${service.id}` }, `${localName(service.names)} (${service.id})`),
      ),
    ),
  );
}

async function saveExpert() {
  /** @type {Problem[]} */
  const problems = [];
  const id = matching('expert-id', 'field.staffId', SUBJECT_PATTERN, 'invalid.subject', problems);
  const agency = chosen('expert-agency', 'field.agency', 'agencies', problems);
  const languages = languagesFrom('expert-languages', 'field.languages', problems, true);
  const services = [...byId('expert-services-list').querySelectorAll('input:checked')].map((box) => /** @type {HTMLInputElement} */ (box).value);
  const workingHours = readHours('expert', problems);
  if (!reportProblems('expert-form', problems)) return null;
  await api.post('/experts', { id, agency, languages, services, working_hours: workingHours });
  await loadDirectory();
  return id;
}

/** @param {Expert} expert */
function editExpert(expert) {
  input('expert-id').value = expert.id;
  select('expert-agency').value = expert.agency;
  input('expert-languages').value = expert.languages.join(', ');
  renderExpertServices(expert.services);
  const merged = fillHours('expert', expert.working_hours);
  editing('expert-form', expert.id, merged);
}

function renderExperts() {
  renderRows(
    'experts-table',
    /** @type {Column<Expert>[]} */ ([
      { key: 'field.staffId', cell: (e) => e.id },
      { key: 'field.agency', cell: (e) => agencyName(e.agency) },
      { key: 'field.languages', cell: (e) => languageList(e.languages) },
      { key: 'field.services', cell: (e) => e.services.map(serviceName).join(', ') || t('common.none') },
      { key: 'field.workingHours', cell: (e) => hoursSummary(e.working_hours) },
    ]),
    state.experts,
    (e) => e.id,
    editExpert,
  );
}

// ---------------------------------------------------------------------------
// Interpreters

function interpretersSection() {
  return [
    entityTable('interpreters-table', 'interpreters.caption'),
    entityForm(
      'interpreter-form',
      'interpreters.form',
      [
        h(
          'div',
          { class: 'grid compact' },
          textField('interpreter-id', 'field.staffId', { required: true, hint: 'hint.subject', maxlength: 128 }),
          textField('interpreter-languages', 'field.interpreterLanguages', { required: true, hint: 'hint.interpreterLanguages' }),
        ),
        hoursFieldset('interpreter', 'field.workingHours'),
      ],
      saveInterpreter,
      { onReset: () => presetHours('interpreter', '08:00', '16:00') },
    ),
  ];
}

async function saveInterpreter() {
  /** @type {Problem[]} */
  const problems = [];
  const id = matching('interpreter-id', 'field.staffId', SUBJECT_PATTERN, 'invalid.subject', problems);
  const languages = languagesFrom('interpreter-languages', 'field.interpreterLanguages', problems, true);
  const workingHours = readHours('interpreter', problems);
  if (!reportProblems('interpreter-form', problems)) return null;
  await api.post('/interpreters', { id, languages, working_hours: workingHours });
  await loadDirectory();
  return id;
}

/** @param {Interpreter} interpreter */
function editInterpreter(interpreter) {
  input('interpreter-id').value = interpreter.id;
  input('interpreter-languages').value = interpreter.languages.join(', ');
  const merged = fillHours('interpreter', interpreter.working_hours);
  editing('interpreter-form', interpreter.id, merged);
}

function renderInterpreters() {
  renderRows(
    'interpreters-table',
    /** @type {Column<Interpreter>[]} */ ([
      { key: 'field.staffId', cell: (i) => i.id },
      { key: 'field.interpreterLanguages', cell: (i) => languageList(i.languages) },
      { key: 'field.workingHours', cell: (i) => hoursSummary(i.working_hours) },
    ]),
    state.interpreters,
    (i) => i.id,
    editInterpreter,
  );
}

// ---------------------------------------------------------------------------
// Agreements

function agreementsSection() {
  return [
    entityForm(
      'agreement-form',
      'agreements.form',
      [
        h(
          'div',
          { class: 'grid compact' },
          directorySelect('agreement-point', 'field.servicePoint', 'points'),
          directorySelect('agreement-agency', 'field.agency', 'agencies'),
          textField('agreement-base', 'field.baseShare', { required: true, inputmode: 'decimal', hint: 'hint.euros' }),
          textField('agreement-per', 'field.perTransaction', { required: true, inputmode: 'decimal', hint: 'hint.euros' }),
        ),
      ],
      saveAgreement,
      { introKey: 'agreements.intro' },
    ),
  ];
}

async function saveAgreement() {
  /** @type {Problem[]} */
  const problems = [];
  const servicePoint = chosen('agreement-point', 'field.servicePoint', 'points', problems);
  const agency = chosen('agreement-agency', 'field.agency', 'agencies', problems);
  const base = centsFrom('agreement-base', 'field.baseShare', problems);
  const per = centsFrom('agreement-per', 'field.perTransaction', problems);
  if (!reportProblems('agreement-form', problems)) return null;
  await api.post('/agreements', { service_point: servicePoint, agency, base_share_cents: base, per_transaction_cents: per });
  state.statistics = null;
  return t('agreements.saved', { point: pointName(servicePoint), agency: agencyName(agency), base: euros(base), per: euros(per) });
}

// ---------------------------------------------------------------------------
// Statistics

function statisticsSection() {
  const to = monthOf();
  const from = addMonths(to, -11);
  const form = h(
    'form',
    { id: 'statistics-form', class: 'statistics-form', novalidate: true, 'aria-labelledby': 'statistics-form-heading' },
    msg('h3', 'statistics.period', { id: 'statistics-form-heading', class: 'visually-hidden' }),
    h(
      'div',
      { class: 'period' },
      textField('statistics-from', 'statistics.from', { type: 'month', required: true, value: from, hint: 'hint.month' }),
      textField('statistics-to', 'statistics.to', { type: 'month', required: true, value: to, hint: 'hint.month' }),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'submit', class: 'primary' }, msg('span', 'statistics.show')),
        h('button', { type: 'button', id: 'statistics-csv', onclick: downloadCsv }, msg('span', 'statistics.csv')),
      ),
    ),
    h('div', { id: 'statistics-form-errors', class: 'form-errors', role: 'alert', tabindex: -1, hidden: true }),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    loadStatistics(true);
  });
  return [
    form,
    h('div', { id: 'statistics-summary', 'aria-live': 'off' }),
    h(
      'figure',
      { id: 'statistics-figure', class: 'chart', hidden: true },
      // Scrolls sideways on narrow screens rather than shrinking the text.
      h('div', { id: 'statistics-chart', class: 'chart-scroll', role: 'region', tabindex: 0, 'aria-labelledby': 'chart-title' }),
      h('figcaption', { id: 'statistics-legend' }),
    ),
    h(
      'div',
      { class: 'table-wrap', role: 'region', tabindex: 0, 'aria-labelledby': 'statistics-caption' },
      h('table', { id: 'statistics-table' }, h('caption', { id: 'statistics-caption' }), h('thead'), h('tbody'), h('tfoot')),
    ),
  ];
}

/** The chosen period, or null (problems shown) when it is invalid. */
function statisticsPeriod() {
  const form = byId('statistics-form');
  clearErrors(form);
  /** @type {Problem[]} */
  const problems = [];
  const from = matching('statistics-from', 'statistics.from', MONTH_PATTERN, 'invalid.month', problems);
  const to = matching('statistics-to', 'statistics.to', MONTH_PATTERN, 'invalid.month', problems);
  if (!problems.length && from > to) problems.push({ input: input('statistics-from'), message: t('invalid.monthRange') });
  if (!reportProblems('statistics-form', problems)) return null;
  return { from, to };
}

/** @param {boolean} [userAsked] announce the result */
async function loadStatistics(userAsked = false) {
  const period = statisticsPeriod();
  if (!period) return;
  const table = byId('statistics-table');
  table.setAttribute('aria-busy', 'true');
  try {
    const rows = /** @type {StatisticsRow[]} */ (await api.get('/statistics', period));
    state.statistics = { ...period, rows };
    renderStatistics();
    if (userAsked) {
      const total = rows.reduce((sum, row) => sum + row.transactions, 0);
      announce(t('statistics.loaded', { period: periodLabel(period.from, period.to), transactions: formatNumber(total), rows: formatNumber(rows.length) }));
    }
  } catch (error) {
    showProblem(byId('statistics-form-errors'), error);
  } finally {
    table.removeAttribute('aria-busy');
  }
}

/** @param {string} from @param {string} to */
function periodLabel(from, to) {
  return from === to ? monthLabel(from) : `${monthLabel(from)} – ${monthLabel(to)}`;
}

async function downloadCsv() {
  const period = statisticsPeriod();
  if (!period) return;
  try {
    const text = /** @type {string} */ (await api.get('/statistics.csv', period));
    const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
    const link = h('a', { href: url, download: `silta-statistics-${period.from}-${period.to}.csv`, class: 'visually-hidden' });
    document.body.append(link);
    link.click();
    link.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
    announce(t('statistics.downloaded', { period: periodLabel(period.from, period.to) }));
  } catch (error) {
    showProblem(byId('statistics-form-errors'), error);
  }
}

/** Agencies in a stable order (directory order), with their colour index. */
function agencyOrder() {
  /** @type {Map<string, number>} */
  const order = new Map();
  state.agencies.forEach((agency, index) => order.set(agency.code, index));
  return order;
}

/** @param {string} code @param {Map<string, number>} order */
function colourIndex(code, order) {
  if (!order.has(code)) order.set(code, order.size);
  return /** @type {number} */ (order.get(code));
}

function renderStatistics() {
  const data = state.statistics;
  if (!data) return;
  const { from, to, rows } = data;
  const period = periodLabel(from, to);
  const table = byId('statistics-table');
  byId('statistics-caption').textContent = t('statistics.caption', { period });
  const columns = [
    ['month', 'statistics.month'],
    ['service_point', 'field.servicePoint'],
    ['agency', 'field.agency'],
    ['transactions', 'statistics.transactions'],
    ['sessions', 'statistics.sessions'],
    ['mean_duration_seconds', 'statistics.meanDuration'],
    ['interpreter_sessions', 'statistics.interpreterSessions'],
    ['feedback_mean', 'statistics.feedback'],
    ['reimbursement_cents', 'statistics.reimbursement'],
  ];
  const numeric = new Set(['transactions', 'sessions', 'mean_duration_seconds', 'interpreter_sessions', 'feedback_mean', 'reimbursement_cents']);
  replace(
    /** @type {HTMLElement} */ (table.querySelector('thead')),
    h('tr', {}, ...columns.map(([name, key]) => h('th', { scope: 'col', class: numeric.has(name) ? 'number' : null }, t(key)))),
  );
  const body = /** @type {HTMLElement} */ (table.querySelector('tbody'));
  const foot = /** @type {HTMLElement} */ (table.querySelector('tfoot'));
  const totals = statisticsTotals(rows);
  if (!rows.length) {
    replace(body, h('tr', {}, h('td', { colspan: columns.length, class: 'muted' }, t('statistics.empty', { period }))));
    replace(foot);
  } else {
    replace(
      body,
      ...rows.map((row) =>
        h(
          'tr',
          { 'data-month': row.month, 'data-service-point': row.service_point, 'data-agency': row.agency },
          h('th', { scope: 'row', 'data-field': 'month' }, monthLabel(row.month, 'long', true)),
          h('td', { 'data-field': 'service_point' }, pointName(row.service_point)),
          h('td', { 'data-field': 'agency' }, agencyName(row.agency)),
          h('td', { 'data-field': 'transactions', class: 'number' }, formatNumber(row.transactions)),
          h('td', { 'data-field': 'sessions', class: 'number' }, formatNumber(row.sessions)),
          h('td', { 'data-field': 'mean_duration_seconds', class: 'number' }, row.sessions ? formatDuration(row.mean_duration_seconds) : '–'),
          h('td', { 'data-field': 'interpreter_sessions', class: 'number' }, formatNumber(row.interpreter_sessions)),
          h('td', { 'data-field': 'feedback_mean', class: 'number' }, feedbackText(row.feedback_mean, row.feedback_count)),
          h('td', { 'data-field': 'reimbursement_cents', class: 'number' }, row.reimbursement_cents === null ? h('span', { class: 'muted' }, t('statistics.noAgreement')) : euros(row.reimbursement_cents)),
        ),
      ),
    );
    replace(
      foot,
      h(
        'tr',
        {},
        h('th', { scope: 'row', colspan: 3 }, t('statistics.total')),
        h('td', { 'data-field': 'transactions', class: 'number' }, formatNumber(totals.transactions)),
        h('td', { 'data-field': 'sessions', class: 'number' }, formatNumber(totals.sessions)),
        h('td', { 'data-field': 'mean_duration_seconds', class: 'number' }, totals.sessions ? formatDuration(totals.meanDuration) : '–'),
        h('td', { 'data-field': 'interpreter_sessions', class: 'number' }, formatNumber(totals.interpreterSessions)),
        h('td', { 'data-field': 'feedback_mean', class: 'number' }, feedbackText(totals.feedbackMean, totals.feedbackCount)),
        h('td', { 'data-field': 'reimbursement_cents', class: 'number' }, euros(totals.reimbursementCents)),
      ),
    );
  }
  renderSummary(totals, period, rows.length > 0);
  renderChart(from, to, rows);
}

/**
 * @param {number | null} mean
 * @param {number} count
 */
function feedbackText(mean, count) {
  if (mean === null || !count) return '–';
  return t('statistics.feedbackValue', { mean: formatNumber(mean, { minimumFractionDigits: 1, maximumFractionDigits: 1 }), count: formatNumber(count) });
}

/** @param {StatisticsRow[]} rows */
function statisticsTotals(rows) {
  const totals = { transactions: 0, sessions: 0, durationSum: 0, interpreterSessions: 0, feedbackSum: 0, feedbackCount: 0, reimbursementCents: 0, withoutAgreement: 0 };
  for (const row of rows) {
    totals.transactions += row.transactions;
    totals.sessions += row.sessions;
    totals.durationSum += row.mean_duration_seconds * row.sessions;
    totals.interpreterSessions += row.interpreter_sessions;
    if (row.feedback_mean !== null) {
      totals.feedbackSum += row.feedback_mean * row.feedback_count;
      totals.feedbackCount += row.feedback_count;
    }
    if (row.reimbursement_cents === null) totals.withoutAgreement += 1;
    else totals.reimbursementCents += row.reimbursement_cents;
  }
  return {
    ...totals,
    meanDuration: totals.sessions ? totals.durationSum / totals.sessions : 0,
    feedbackMean: totals.feedbackCount ? totals.feedbackSum / totals.feedbackCount : null,
  };
}

/**
 * @param {ReturnType<typeof statisticsTotals>} totals
 * @param {string} period
 * @param {boolean} any
 */
function renderSummary(totals, period, any) {
  const summary = byId('statistics-summary');
  if (!any) {
    replace(summary);
    return;
  }
  /** @param {string} key @param {string} value */
  const item = (key, value) => h('div', { class: 'stat' }, h('dt', {}, t(key)), h('dd', {}, value));
  replace(
    summary,
    h('h3', {}, t('statistics.totals', { period })),
    h(
      'dl',
      { class: 'stats' },
      item('statistics.transactions', formatNumber(totals.transactions)),
      item('statistics.sessions', formatNumber(totals.sessions)),
      item('statistics.interpreterSessions', formatNumber(totals.interpreterSessions)),
      item('statistics.feedback', feedbackText(totals.feedbackMean, totals.feedbackCount)),
      item('statistics.reimbursementEstimate', euros(totals.reimbursementCents)),
    ),
    totals.withoutAgreement ? h('p', { class: 'muted' }, t('statistics.rowsWithoutAgreement', { count: formatNumber(totals.withoutAgreement) })) : null,
  );
}

const SVG = 'http://www.w3.org/2000/svg';

/**
 * An SVG element.
 * @param {string} tag
 * @param {Record<string, string | number | null | undefined>} [attributes]
 * @param {...(Node | string)} children
 */
function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== null && value !== undefined) element.setAttribute(name, String(value));
  }
  element.append(...children);
  return element;
}

/**
 * The fill pattern of an agency's bars (colour plus texture, so the legend
 * does not rely on colour alone).
 * @param {number} index
 */
function patternDefinition(index) {
  const colour = CHART_COLOURS[index % CHART_COLOURS.length];
  const kind = PATTERNS[index % PATTERNS.length];
  const pattern = svg('pattern', { id: `agency-pattern-${index}`, patternUnits: 'userSpaceOnUse', width: 8, height: 8 });
  pattern.append(svg('rect', { width: 8, height: 8, fill: colour }));
  const line = { stroke: '#ffffff', 'stroke-width': 1.5, 'stroke-opacity': 0.85 };
  if (kind === 'diagonal') pattern.append(svg('path', { d: 'M-2,2 l4,-4 M0,8 l8,-8 M6,10 l4,-4', ...line }));
  if (kind === 'dots') pattern.append(svg('circle', { cx: 4, cy: 4, r: 1.5, fill: '#ffffff', 'fill-opacity': 0.85 }));
  if (kind === 'horizontal') pattern.append(svg('path', { d: 'M0,4 h8', ...line }));
  if (kind === 'vertical') pattern.append(svg('path', { d: 'M4,0 v8', ...line }));
  if (kind === 'cross') pattern.append(svg('path', { d: 'M0,0 l8,8 M8,0 l-8,8', ...line }));
  return pattern;
}

/** @param {number} max */
function niceStep(max) {
  if (max <= 5) return 1;
  const raw = max / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((factor) => factor * power).find((candidate) => candidate >= raw) ?? 10 * power;
  return Math.max(1, Math.round(step));
}

/**
 * Stacked bars: transactions per month, one segment per agency.
 * @param {string} from
 * @param {string} to
 * @param {StatisticsRow[]} rows
 */
function renderChart(from, to, rows) {
  const figure = byId('statistics-figure');
  const holder = byId('statistics-chart');
  const legend = byId('statistics-legend');
  const months = monthsBetween(from, to);
  /** @type {Map<string, Map<string, number>>} month → agency → transactions */
  const byMonth = new Map(months.map((month) => [month, new Map()]));
  for (const row of rows) {
    const agencies = byMonth.get(row.month);
    if (agencies) agencies.set(row.agency, (agencies.get(row.agency) ?? 0) + row.transactions);
  }
  const order = agencyOrder();
  const present = [...new Set(rows.map((row) => row.agency))].sort((a, b) => colourIndex(a, order) - colourIndex(b, order));
  const totals = months.map((month) => [...(byMonth.get(month)?.values() ?? [])].reduce((sum, value) => sum + value, 0));
  const grand = totals.reduce((sum, value) => sum + value, 0);
  if (!rows.length) {
    figure.setAttribute('hidden', '');
    replace(holder);
    replace(legend);
    return;
  }
  figure.removeAttribute('hidden');

  const width = 880;
  const height = 400;
  const margin = { top: 24, right: 16, bottom: 100, left: 64 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const maxTotal = Math.max(1, ...totals);
  const step = niceStep(maxTotal);
  const top = Math.ceil(maxTotal / step) * step;
  const y = (/** @type {number} */ value) => margin.top + plotHeight - (value / top) * plotHeight;
  const band = plotWidth / months.length;
  const barWidth = Math.min(48, band * 0.7);
  const labelEvery = Math.ceil(months.length / 12);

  const busiest = months[totals.indexOf(Math.max(...totals))];
  const summary = t('chart.summary', {
    period: periodLabel(from, to),
    total: formatNumber(grand),
    agencies: present.map(agencyName).join(', '),
    busiest: monthLabel(busiest),
    busiestCount: formatNumber(Math.max(...totals)),
  });

  const chart = svg('svg', {
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-labelledby': 'chart-title chart-desc',
    class: 'chart-svg',
    focusable: 'false',
  });
  chart.append(
    svg('title', { id: 'chart-title' }, t('chart.title', { period: periodLabel(from, to) })),
    svg('desc', { id: 'chart-desc' }, summary),
    svg('defs', {}, ...present.map((code) => patternDefinition(colourIndex(code, order)))),
  );
  // Grid lines and the y axis.
  const axis = svg('g', { class: 'axis', 'aria-hidden': 'true' });
  for (let value = 0; value <= top; value += step) {
    axis.append(
      svg('line', { x1: margin.left, x2: width - margin.right, y1: y(value), y2: y(value), stroke: value ? '#c9ced6' : '#1b1f24', 'stroke-width': 1 }),
      svg('text', { x: margin.left - 8, y: y(value) + 4, 'text-anchor': 'end', 'font-size': 12, fill: '#1b1f24' }, formatNumber(value)),
    );
  }
  axis.append(
    svg('line', { x1: margin.left, x2: margin.left, y1: margin.top, y2: margin.top + plotHeight, stroke: '#1b1f24' }),
    svg(
      'text',
      { x: 16, y: margin.top + plotHeight / 2, transform: `rotate(-90 16 ${margin.top + plotHeight / 2})`, 'text-anchor': 'middle', 'font-size': 13, 'font-weight': 600, fill: '#1b1f24' },
      t('chart.yAxis'),
    ),
    svg('text', { x: margin.left + plotWidth / 2, y: height - 8, 'text-anchor': 'middle', 'font-size': 13, 'font-weight': 600, fill: '#1b1f24' }, t('chart.xAxis')),
  );
  chart.append(axis);

  const bars = svg('g', { class: 'bars' });
  months.forEach((month, index) => {
    const x = margin.left + index * band + (band - barWidth) / 2;
    let base = 0;
    for (const code of present) {
      const value = byMonth.get(month)?.get(code) ?? 0;
      if (!value) continue;
      const y0 = y(base);
      const y1 = y(base + value);
      bars.append(
        svg(
          'rect',
          { x, y: y1, width: barWidth, height: Math.max(0, y0 - y1), fill: `url(#agency-pattern-${colourIndex(code, order)})`, stroke: '#ffffff', 'stroke-width': 1 },
          svg('title', {}, t('chart.segment', { agency: agencyName(code), month: monthLabel(month), count: formatNumber(value) })),
        ),
      );
      base += value;
    }
    if (totals[index]) {
      bars.append(svg('text', { x: x + barWidth / 2, y: y(totals[index]) - 6, 'text-anchor': 'middle', 'font-size': 12, fill: '#1b1f24', 'aria-hidden': 'true' }, formatNumber(totals[index])));
    }
    if (index % labelEvery === 0) {
      const cx = margin.left + index * band + band / 2;
      const labelY = margin.top + plotHeight + 18;
      bars.append(
        svg(
          'text',
          { x: cx, y: labelY, 'text-anchor': months.length > 6 ? 'end' : 'middle', transform: months.length > 6 ? `rotate(-35 ${cx} ${labelY})` : null, 'font-size': 12, fill: '#1b1f24', 'aria-hidden': 'true' },
          monthLabel(month, 'short'),
        ),
      );
    }
  });
  chart.append(bars);
  replace(holder, chart);

  replace(
    legend,
    h('p', { class: 'legend-title' }, t('chart.legend')),
    h(
      'ul',
      { class: 'legend' },
      ...present.map((code) => {
        const swatch = svg('svg', { width: 20, height: 20, viewBox: '0 0 20 20', 'aria-hidden': 'true', focusable: 'false' });
        swatch.append(svg('rect', { x: 1, y: 1, width: 18, height: 18, fill: `url(#agency-pattern-${colourIndex(code, order)})`, stroke: '#1b1f24', 'stroke-width': 1 }));
        const total = rows.filter((row) => row.agency === code).reduce((sum, row) => sum + row.transactions, 0);
        return h('li', {}, swatch, h('span', {}, t('chart.legendItem', { agency: agencyName(code), count: formatNumber(total) })));
      }),
    ),
    h('p', { class: 'muted' }, t('chart.tableNote')),
  );
}

// ---------------------------------------------------------------------------
// Navigation

const RENDERERS = {
  agencies: renderAgencies,
  services: renderServices,
  points: renderPoints,
  kiosks: renderKiosks,
  experts: renderExperts,
  interpreters: renderInterpreters,
  agreements: () => {},
  statistics: renderStatistics,
};

const BUILDERS = {
  agencies: agenciesSection,
  services: servicesSection,
  points: pointsSection,
  kiosks: kiosksSection,
  experts: expertsSection,
  interpreters: interpretersSection,
  agreements: agreementsSection,
  statistics: statisticsSection,
};

function buildApp() {
  const main = byId('main');
  const nav = h(
    'nav',
    { class: 'sections', 'aria-label': t('nav.label'), 'data-i18n-attr': 'aria-label=nav.label' },
    h('ul', {}, ...SECTIONS.map((name) => h('li', {}, msg('a', `section.${name}`, { href: `#${name}`, id: `nav-${name}` })))),
  );
  const sections = SECTIONS.map((name) =>
    h(
      'section',
      { id: name, class: 'panel', 'aria-labelledby': `${name}-title`, hidden: true },
      msg('h2', `section.${name}`, { id: `${name}-title`, tabindex: -1 }),
      msg('p', `intro.${name}`, { class: 'muted' }),
      ...BUILDERS[name](),
    ),
  );
  replace(main, nav, ...sections);
  translate(main);
  refreshSelects();
  presetHours('point', '09:00', '16:00');
  presetHours('expert', '08:00', '16:00');
  presetHours('interpreter', '08:00', '16:00');
  input('service-remote').checked = true;
  input('kiosk-active').checked = true;
  window.addEventListener('hashchange', () => {
    const name = location.hash.slice(1);
    if (SECTIONS.includes(name)) showSection(name, true);
  });
}

/**
 * @param {string} name
 * @param {boolean} [moveFocus]
 */
function showSection(name, moveFocus = false) {
  state.section = name;
  for (const other of SECTIONS) {
    const section = byId(other);
    if (other === name) section.removeAttribute('hidden');
    else section.setAttribute('hidden', '');
    const link = byId(`nav-${other}`);
    if (other === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  updateTitle();
  if (name === 'statistics' && !state.statistics) loadStatistics();
  if (moveFocus) {
    byId(`${name}-title`).focus();
    announce(t('nav.shown', { section: t(`section.${name}`) }));
  }
}

function updateTitle() {
  document.title = state.signedIn ? t('app.documentTitle', { section: t(`section.${state.section}`) }) : t('app.title');
}

// ---------------------------------------------------------------------------
// Data

async function loadDirectory() {
  const [agencies, services, points, kiosks, experts, interpreters] = await Promise.all([
    api.all('/agencies'),
    api.all('/services'),
    api.all('/service-points'),
    api.all('/kiosks'),
    api.all('/experts'),
    api.all('/interpreters'),
  ]);
  Object.assign(state, { agencies, services, points, kiosks, experts, interpreters });
  renderDirectory();
}

function renderDirectory() {
  refreshSelects();
  for (const name of SECTIONS) RENDERERS[name]();
}

function renderAll() {
  updateTitle();
  renderWho();
  if (!state.signedIn) return;
  for (const legend of document.querySelectorAll('[data-weekday]')) legend.textContent = weekdayName(Number(legend.getAttribute('data-weekday')));
  renderDirectory();
}

function renderWho() {
  const who = byId('who');
  who.textContent = state.subject && state.signedIn ? t('signin.as', { subject: state.subject }) : '';
}

// ---------------------------------------------------------------------------
// Sign-in

/** The demo identity to use: `?as=`, or one picked on a small form. */
async function chooseSubject() {
  const requested = requestedSubject();
  if (requested) return requested;
  const identities = await demoIdentities('admin');
  const main = byId('main');
  if (!identities.length) {
    replace(main, h('section', { class: 'panel', 'aria-labelledby': 'signin-title' }, msg('h2', 'signin.title', { id: 'signin-title' }), msg('p', 'signin.unavailable')));
    return null;
  }
  const choice = h('select', { id: 'signin-subject', name: 'subject' }, ...identities.map((identity) => h('option', { value: identity.subject }, `${identity.subject} – ${identity.description}`)));
  const form = h(
    'form',
    { id: 'signin-form', 'aria-labelledby': 'signin-title' },
    msg('h2', 'signin.title', { id: 'signin-title' }),
    h('div', { class: 'field' }, msg('label', 'signin.choose', { for: 'signin-subject' }), choice),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, msg('span', 'signin.submit'))),
  );
  replace(main, h('section', { class: 'panel signin' }, form));
  return new Promise((resolve) => {
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const subject = /** @type {HTMLSelectElement} */ (choice).value;
      const url = new URL(location.href);
      url.searchParams.set('as', subject);
      history.replaceState(null, '', url);
      resolve(subject);
    });
  });
}

async function start() {
  await setUpLanguagePicker(select('language'), CATALOGUES, LANGUAGE_KEY);
  updateTitle();
  onLanguageChange(renderAll);
  const subject = await chooseSubject();
  if (!subject) return;
  state.subject = subject;
  api = bookingApi(demoTokenSource(subject));
  buildApp();
  state.signedIn = true;
  renderWho();
  const initial = location.hash.slice(1);
  showSection(SECTIONS.includes(initial) ? initial : 'agencies');
  try {
    await loadDirectory();
    announce(t('app.ready', { subject }));
  } catch (error) {
    const main = byId('main');
    const box = h('div', { class: 'form-errors', role: 'alert', tabindex: -1 });
    main.prepend(box);
    showProblem(box, error);
  }
}

start().catch((error) => {
  console.error('silta admin:', error);
  const main = document.getElementById('main');
  if (main) replace(main, h('p', { class: 'form-errors', role: 'alert' }, t('error.generic', { code: error?.code ?? 'internal' })));
});
