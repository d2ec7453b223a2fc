// Weekly hours: a service point's opening hours and an expert's or
// interpreter's working hours. The seven-day fieldset, reading and checking
// it, filling it for Edit, the weekday preset a cleared form starts from, and
// the compact summary the tables show.

import { locale, t } from '../shared/i18n.js';
import { h } from '../shared/ui.js';
import { capitalise, field, input, msg } from './kit.js';

/** @typedef {import('./kit.js').Problem} Problem */

/** @typedef {import('../types/booking-api').WeekdayHours} WeekdayHours */

const WEEKDAYS = [1, 2, 3, 4, 5, 6, 7];
const CLOCK_PATTERN = /^([01]\d|2[0-4]):([0-5]\d)$/;

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

/** @param {string} clock `HH:MM` */
export function minutesOf(clock) {
  const [hours, minutes] = clock.split(':').map(Number);
  return hours * 60 + minutes;
}

/**
 * Weekly hours as compact text, e.g. "Ma–Pe 09:00–16:00".
 * @param {WeekdayHours[]} hours
 */
export function hoursSummary(hours) {
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

/**
 * Seven weekdays with opening and closing times; both empty = closed.
 * @param {string} prefix element id prefix
 * @param {string} legendKey
 */
export function hoursFieldset(prefix, legendKey) {
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
export function readHours(prefix, problems) {
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
export function fillHours(prefix, hours) {
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
export function presetHours(prefix, opens, closes) {
  for (const weekday of WEEKDAYS) {
    input(`${prefix}-opens-${weekday}`).value = weekday <= 5 ? opens : '';
    input(`${prefix}-closes-${weekday}`).value = weekday <= 5 ? closes : '';
  }
}

/** Renames the weekday legends of the hours fieldsets in the current language. */
export function renameWeekdayLegends() {
  for (const legend of document.querySelectorAll('[data-weekday]')) legend.textContent = weekdayName(Number(legend.getAttribute('data-weekday')));
}
