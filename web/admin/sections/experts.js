// The experts section: the table of experts and the form that adds or
// replaces one: agency, languages, the agency's services the expert serves
// (checkboxes that follow the chosen agency) and weekly working hours.

import { t } from '../../shared/i18n.js';
import { byId, h, replace } from '../../shared/ui.js';
import { fillHours, hoursFieldset, hoursSummary, presetHours, readHours } from '../hours.js';
import { SUBJECT_PATTERN, editing, entityForm, entityTable, input, languageList, languagesFrom, matching, msg, renderRows, reportProblems, select, textField } from '../kit.js';
import { agencyName, api, chosen, directory, directorySelect, loadDirectory, localName, serviceName } from '../store.js';

/** @typedef {import('../kit.js').Problem} Problem */
/** @typedef {import('../store.js').Expert} Expert */
/**
 * @template T
 * @typedef {import('../kit.js').Column<T>} Column
 */

export function expertsSection() {
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
export function renderExpertServices(checked) {
  const list = document.getElementById('expert-services-list');
  if (!list) return;
  const keep = checked ?? [...list.querySelectorAll('input:checked')].map((box) => /** @type {HTMLInputElement} */ (box).value);
  const agency = select('expert-agency').value;
  const services = directory.services.filter((service) => service.agency === agency);
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

export function renderExperts() {
  renderRows(
    'experts-table',
    /** @type {Column<Expert>[]} */ ([
      { key: 'field.staffId', cell: (e) => e.id },
      { key: 'field.agency', cell: (e) => agencyName(e.agency) },
      { key: 'field.languages', cell: (e) => languageList(e.languages) },
      { key: 'field.services', cell: (e) => e.services.map(serviceName).join(', ') || t('common.none') },
      { key: 'field.workingHours', cell: (e) => hoursSummary(e.working_hours) },
    ]),
    directory.experts,
    (e) => e.id,
    editExpert,
  );
}
