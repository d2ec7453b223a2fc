// The statistics section: a period of months, the monthly table per service
// point and agency with its totals row, a summary of the totals, a stacked
// bar chart of transactions by agency (an SVG with a text alternative and a
// legend that does not rely on colour alone), and the same rows as CSV.
//
// The statistics load when the section is first shown and when the period is
// asked for; a saved agreement makes them load again when next shown.

import { formatDuration, formatNumber, locale, t } from '../shared/i18n.js';
import { announce, byId, h, replace } from '../shared/ui.js';
import { capitalise, clearErrors, euros, input, matching, msg, reportProblems, showProblem, textField } from './kit.js';
import { agencyName, api, directory, pointName } from './store.js';

/** @typedef {import('./kit.js').Problem} Problem */

/** @typedef {import('../types/booking-api').StatisticsRow} StatisticsRow */

/** Agency colours: each ≥ 3:1 against white (most ≥ 4.5:1), told apart by pattern too. */
const CHART_COLOURS = ['#0b4f8a', '#b3541e', '#1c6e36', '#7b3fa0', '#a3161b', '#00707a', '#6b5d00', '#b0206e'];
const PATTERNS = ['solid', 'diagonal', 'dots', 'horizontal', 'vertical', 'cross'];
const MONTH_PATTERN = /^\d{4}-(0[1-9]|1[0-2])$/;

/** The rows of the period last shown; null until loaded (or after an agreement changed). @type {{from: string, to: string, rows: StatisticsRow[]} | null} */
let statistics = null;

/** Makes the statistics load again when the section is next shown (an agreement changed what they say). */
export function forgetStatistics() {
  statistics = null;
}

/** Loads the statistics of the period in the form unless some are loaded already. */
export function loadStatisticsUnlessLoaded() {
  if (!statistics) loadStatistics();
}

// ---------------------------------------------------------------------------
// Months

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

// ---------------------------------------------------------------------------
// The section, its table and summary

export function statisticsSection() {
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
    const rows = await api.get('/statistics', period);
    statistics = { ...period, rows };
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
    const text = await api.get('/statistics.csv', period);
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
  directory.agencies.forEach((agency, index) => order.set(agency.code, index));
  return order;
}

/** @param {string} code @param {Map<string, number>} order */
function colourIndex(code, order) {
  if (!order.has(code)) order.set(code, order.size);
  return /** @type {number} */ (order.get(code));
}

export function renderStatistics() {
  const data = statistics;
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
    ['queue_requests', 'statistics.queueRequests'],
    ['queue_abandoned', 'statistics.queueAbandoned'],
    ['queue_mean_wait_seconds', 'statistics.queueMeanWait'],
    ['queue_served_within', 'statistics.queueServedWithin'],
  ];
  const numeric = new Set(['transactions', 'sessions', 'mean_duration_seconds', 'interpreter_sessions', 'feedback_mean', 'reimbursement_cents', 'queue_requests', 'queue_abandoned', 'queue_mean_wait_seconds', 'queue_served_within']);
  const withinMinutes = rows[0]?.within_minutes ?? 10;
  replace(
    /** @type {HTMLElement} */ (table.querySelector('thead')),
    h('tr', {}, ...columns.map(([name, key]) => h('th', { scope: 'col', class: numeric.has(name) ? 'number' : null }, t(key, { minutes: formatNumber(withinMinutes) })))),
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
          h('td', { 'data-field': 'feedback_mean', class: 'number' }, feedbackText(row.feedback_mean ?? null, row.feedback_count)),
          h('td', { 'data-field': 'reimbursement_cents', class: 'number' }, reimbursementCell(row.reimbursement_cents ?? null)),
          ...queueCells(row.queue_requests, row.queue_abandoned, row.queue_mean_wait_seconds ?? null, row.queue_served_within),
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
        ...queueCells(totals.queueRequests, totals.queueAbandoned, totals.queueMeanWait, totals.queueServedWithin),
      ),
    );
  }
  renderSummary(totals, period, rows.length > 0);
  renderChart(from, to, rows);
}

/**
 * The on-demand queue's cells: requests, abandoned, mean wait, served within the target.
 * @param {number} requests
 * @param {number} abandoned
 * @param {number | null} meanWait seconds; null without requests
 * @param {number} servedWithin
 */
function queueCells(requests, abandoned, meanWait, servedWithin) {
  return [
    h('td', { 'data-field': 'queue_requests', class: 'number' }, formatNumber(requests)),
    h('td', { 'data-field': 'queue_abandoned', class: 'number' }, formatNumber(abandoned)),
    h('td', { 'data-field': 'queue_mean_wait_seconds', class: 'number' }, meanWait === null ? '–' : formatDuration(meanWait)),
    h('td', { 'data-field': 'queue_served_within', class: 'number' }, formatNumber(servedWithin)),
  ];
}

/** @param {number | null} cents null without an agreement */
function reimbursementCell(cents) {
  return cents === null ? h('span', { class: 'muted' }, t('statistics.noAgreement')) : euros(cents);
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
  const totals = { transactions: 0, sessions: 0, durationSum: 0, interpreterSessions: 0, feedbackSum: 0, feedbackCount: 0, reimbursementCents: 0, withoutAgreement: 0, queueRequests: 0, queueAbandoned: 0, queueWaitSum: 0, queueServedWithin: 0 };
  for (const row of rows) {
    totals.queueRequests += row.queue_requests;
    totals.queueAbandoned += row.queue_abandoned;
    totals.queueWaitSum += (row.queue_mean_wait_seconds ?? 0) * row.queue_requests;
    totals.queueServedWithin += row.queue_served_within;
    totals.transactions += row.transactions;
    totals.sessions += row.sessions;
    totals.durationSum += row.mean_duration_seconds * row.sessions;
    totals.interpreterSessions += row.interpreter_sessions;
    const feedbackMean = row.feedback_mean ?? null;
    if (feedbackMean !== null) {
      totals.feedbackSum += feedbackMean * row.feedback_count;
      totals.feedbackCount += row.feedback_count;
    }
    const reimbursementCents = row.reimbursement_cents ?? null;
    if (reimbursementCents === null) totals.withoutAgreement += 1;
    else totals.reimbursementCents += reimbursementCents;
  }
  return {
    ...totals,
    meanDuration: totals.sessions ? totals.durationSum / totals.sessions : 0,
    queueMeanWait: totals.queueRequests ? totals.queueWaitSum / totals.queueRequests : null,
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

// ---------------------------------------------------------------------------
// The chart

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
