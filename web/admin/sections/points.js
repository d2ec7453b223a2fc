// The service points section: the table of service points and the form that
// adds or replaces one with its weekly opening hours, and beside it the
// forms for a one-day opening exception of a point and a public holiday.

import { TIME_ZONE, formatDateTime, t } from '../../shared/i18n.js';
import { h } from '../../shared/ui.js';
import { fillHours, hoursFieldset, hoursSummary, minutesOf, presetHours, readHours } from '../hours.js';
import { ID_PATTERN, editing, entityForm, entityTable, input, matching, renderRows, reportProblems, required, textField } from '../kit.js';
import { api, chosen, directory, directorySelect, loadDirectory, pointName } from '../store.js';

/** @typedef {import('../kit.js').Problem} Problem */
/** @typedef {import('../store.js').ServicePoint} ServicePoint */
/**
 * @template T
 * @typedef {import('../kit.js').Column<T>} Column
 */

const DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

/** @typedef {import('../../types/booking-api').ServicePoint['time_zone']} TimeZoneName */

/**
 * Whether the browser knows the zone (the API takes the IANA names).
 * @param {string} zone
 * @returns {zone is TimeZoneName}
 */
function isTimeZone(zone) {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export function pointsSection() {
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
  if (!reportProblems('point-form', problems) || !isTimeZone(timeZone)) return null;
  await api.post('/service-points', { id, municipality, address, time_zone: timeZone, opening_hours: openingHours });
  await loadDirectory();
  return `${municipality} (${id})`;
}

/** @param {ServicePoint} point */
function editPoint(point) {
  input('point-id').value = point.id;
  input('point-municipality').value = point.municipality;
  input('point-address').value = point.address;
  // Absent means the server's default, Finnish time.
  input('point-time-zone').value = point.time_zone ?? TIME_ZONE;
  const merged = fillHours('point', point.opening_hours);
  editing('point-form', point.id, merged);
}

export function renderPoints() {
  renderRows(
    'points-table',
    /** @type {Column<ServicePoint>[]} */ ([
      { key: 'field.pointId', cell: (p) => p.id },
      { key: 'field.municipality', cell: (p) => p.municipality },
      { key: 'field.address', cell: (p) => p.address },
      { key: 'field.timeZone', cell: (p) => p.time_zone ?? TIME_ZONE },
      { key: 'points.openingHours', cell: (p) => hoursSummary(p.opening_hours) },
    ]),
    directory.points,
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
