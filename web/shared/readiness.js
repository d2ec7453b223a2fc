// A kiosk's readiness from its self-test, in plain words (the kiosk's
// maintenance view and the advisor's list of kiosks say the same).

import { t } from './i18n.js';

/** @typedef {import('../types/wire').KioskReadiness} KioskReadiness */
/** @typedef {import('../types/wire').PathCheck} PathCheck */

/**
 * The verdict's short name and its badge colour.
 * @param {KioskReadiness | null | undefined} readiness
 * @returns {{label: string, badge: 'good' | 'warn' | 'bad' | ''}}
 */
export function readinessBadge(readiness) {
  if (!readiness) return { label: '', badge: '' };
  if (readiness.readiness === 'ready') return { label: t('readiness.good'), badge: 'good' };
  if (readiness.readiness === 'degraded') return { label: t('readiness.degraded'), badge: 'warn' };
  return { label: t('readiness.failed'), badge: 'bad' };
}

/**
 * What the self-test found, as sentences: each problem, most serious first,
 * or that everything works.
 * @param {KioskReadiness | null | undefined} readiness
 */
export function readinessText(readiness) {
  if (!readiness) return t('readiness.unknown');
  if (readiness.problems.length === 0) return t('readiness.ready');
  return readiness.problems.map((problem) => t(`readiness.problem.${problem}`)).join(' ');
}

/**
 * One path as tried: its name and whether it works (with its round trip).
 * @param {PathCheck} check
 */
export function pathText(check) {
  let state = t('readiness.path.fails');
  if (check.works) state = check.rtt_ms === undefined || check.rtt_ms === null ? t('readiness.path.works_no_rtt') : t('readiness.path.works', { rtt: check.rtt_ms });
  return `${t(`readiness.path.${check.path}`)}: ${state}`;
}
