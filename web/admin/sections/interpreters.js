// The interpreters section: the table of interpreters and the form that adds
// or replaces one (the languages they interpret and weekly working hours).

import { h } from '../../shared/ui.js';
import { fillHours, hoursFieldset, hoursSummary, presetHours, readHours } from '../hours.js';
import { SUBJECT_PATTERN, editing, entityForm, entityTable, input, languageList, languagesFrom, matching, renderRows, reportProblems, textField } from '../kit.js';
import { api, directory, loadDirectory } from '../store.js';

/** @typedef {import('../kit.js').Problem} Problem */
/** @typedef {import('../store.js').Interpreter} Interpreter */
/**
 * @template T
 * @typedef {import('../kit.js').Column<T>} Column
 */

export function interpretersSection() {
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

export function renderInterpreters() {
  renderRows(
    'interpreters-table',
    /** @type {Column<Interpreter>[]} */ ([
      { key: 'field.staffId', cell: (i) => i.id },
      { key: 'field.interpreterLanguages', cell: (i) => languageList(i.languages) },
      { key: 'field.workingHours', cell: (i) => hoursSummary(i.working_hours) },
    ]),
    directory.interpreters,
    (i) => i.id,
    editInterpreter,
  );
}
