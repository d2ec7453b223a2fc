// The kiosks section: the table of kiosks and the form that adds or replaces
// one (its service point, whether it is in use and whether it plays audio
// cues), and the kiosks' device credentials (credentials.js).

import { t } from '../../shared/i18n.js';
import { h } from '../../shared/ui.js';
import { SUBJECT_PATTERN, checkboxField, editing, entityForm, entityTable, input, matching, msg, renderRows, reportProblems, select, textField, yesNo } from '../kit.js';
import { api, chosen, directory, directorySelect, loadDirectory, pointName } from '../store.js';
import { credentialsSection, renderCredentials } from './credentials.js';

/** @typedef {import('../kit.js').Problem} Problem */
/** @typedef {import('../store.js').Kiosk} Kiosk */
/**
 * @template T
 * @typedef {import('../kit.js').Column<T>} Column
 */

export function kiosksSection() {
  return [
    h(
      'div',
      { class: 'kiosk-languages' },
      msg('h3', 'kiosks.languages', { id: 'kiosk-languages-title' }),
      h('ul', { id: 'kiosk-languages', 'aria-labelledby': 'kiosk-languages-title' }),
    ),
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
        checkboxField('kiosk-audio-cues', 'field.audioCues'),
      ],
      saveKiosk,
      {
        onReset: () => {
          input('kiosk-active').checked = true;
          input('kiosk-audio-cues').checked = false;
        },
      },
    ),
    ...credentialsSection(),
  ];
}

async function saveKiosk() {
  /** @type {Problem[]} */
  const problems = [];
  const id = matching('kiosk-id', 'field.kioskId', SUBJECT_PATTERN, 'invalid.subject', problems);
  const servicePoint = chosen('kiosk-point', 'field.servicePoint', 'points', problems);
  if (!reportProblems('kiosk-form', problems)) return null;
  await api.post('/kiosks', {
    id,
    service_point: servicePoint,
    active: input('kiosk-active').checked,
    audio_cues: input('kiosk-audio-cues').checked,
  });
  await loadDirectory();
  return id;
}

/** @param {Kiosk} kiosk */
function editKiosk(kiosk) {
  input('kiosk-id').value = kiosk.id;
  select('kiosk-point').value = kiosk.service_point;
  // Absent means the server's default: active.
  input('kiosk-active').checked = kiosk.active !== false;
  input('kiosk-audio-cues').checked = kiosk.audio_cues === true;
  editing('kiosk-form', kiosk.id);
}

/**
 * The languages the kiosks speak (one catalogue file each), and those
 * whose translation waits for a native speaker's review.
 * @type {Array<{code: string, name: string, review: string}> | null}
 */
let kioskLanguages = null;

async function renderKioskLanguages() {
  const list = document.getElementById('kiosk-languages');
  if (!list) return;
  if (!kioskLanguages) {
    try {
      const response = await fetch('/kiosk/i18n/languages.json');
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      kioskLanguages = await response.json();
    } catch (error) {
      console.warn('silta: the kiosk languages could not be read', error);
      return;
    }
  }
  list.replaceChildren(
    ...(kioskLanguages ?? []).map((language) =>
      h(
        'li',
        { 'data-language': language.code, 'data-review': language.review },
        h('span', { lang: language.code }, language.name),
        ' – ',
        language.review === 'awaiting_review' ? h('strong', {}, t('kiosks.awaitingReview')) : t('kiosks.reviewed'),
      ),
    ),
  );
}

export function renderKiosks() {
  renderKioskLanguages().catch((error) => console.warn('silta:', error));
  renderCredentials().catch((error) => console.warn('silta:', error));
  renderRows(
    'kiosks-table',
    /** @type {Column<Kiosk>[]} */ ([
      { key: 'field.kioskId', cell: (k) => k.id },
      { key: 'field.servicePoint', cell: (k) => pointName(k.service_point) },
      { key: 'field.active', cell: (k) => yesNo(k.active !== false) },
      { key: 'field.audioCues', cell: (k) => yesNo(k.audio_cues === true) },
    ]),
    directory.kiosks,
    (k) => k.id,
    editKiosk,
  );
}
