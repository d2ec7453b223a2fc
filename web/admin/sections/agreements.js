// The agreements section: the form that sets what an agency reimburses a
// service point (a base share and an amount per transaction). Agreements have
// no table here: the statistics show what they come to, so saving one makes
// the statistics load again when next shown.

import { t } from '../../shared/i18n.js';
import { h } from '../../shared/ui.js';
import { centsFrom, entityForm, euros, reportProblems, textField } from '../kit.js';
import { forgetStatistics } from '../statistics.js';
import { agencyName, api, chosen, directorySelect, pointName } from '../store.js';

/** @typedef {import('../kit.js').Problem} Problem */

export function agreementsSection() {
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
  forgetStatistics();
  return t('agreements.saved', { point: pointName(servicePoint), agency: agencyName(agency), base: euros(base), per: euros(per) });
}
