// The services section: the table of services and the form that adds or
// replaces one (its agency, names, duration, languages, remote capability).

import { formatNumber, t } from '../../shared/i18n.js';
import { h } from '../../shared/ui.js';
import { ID_PATTERN, checkboxField, editing, entityForm, entityTable, input, languageList, languagesFrom, matching, msg, renderRows, reportProblems, required, select, textField, yesNo } from '../kit.js';
import { agencyName, api, chosen, directory, directorySelect, loadDirectory, localName } from '../store.js';

/** @typedef {import('../kit.js').Problem} Problem */
/** @typedef {import('../store.js').Service} Service */
/**
 * @template T
 * @typedef {import('../kit.js').Column<T>} Column
 */

export function servicesSection() {
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

export function renderServices() {
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
    directory.services,
    (s) => s.id,
    editService,
  );
}
