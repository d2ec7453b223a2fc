// The agencies section: the table of agencies and the form that adds one or
// replaces its names (an agency's code is its key).

import { h } from '../../shared/ui.js';
import { editing, entityForm, entityTable, input, matching, msg, renderRows, reportProblems, required, textField } from '../kit.js';
import { api, directory, loadDirectory } from '../store.js';

/** @typedef {import('../kit.js').Problem} Problem */
/** @typedef {import('../store.js').Agency} Agency */
/**
 * @template T
 * @typedef {import('../kit.js').Column<T>} Column
 */

const AGENCY_PATTERN = /^[A-Z0-9_]{1,32}$/;

export function agenciesSection() {
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

export function renderAgencies() {
  renderRows(
    'agencies-table',
    /** @type {Column<Agency>[]} */ ([
      { key: 'field.agencyCode', cell: (a) => a.code },
      { key: 'field.nameFi', cell: (a) => h('span', { lang: 'fi' }, a.names.fi) },
      { key: 'field.nameSv', cell: (a) => h('span', { lang: 'sv' }, a.names.sv) },
      { key: 'field.nameEn', cell: (a) => h('span', { lang: 'en' }, a.names.en) },
    ]),
    directory.agencies,
    (a) => a.code,
    editAgency,
  );
}
