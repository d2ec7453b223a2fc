// Silta administration: the live operations view, the directory (agencies,
// services, service points with their opening hours, exceptions and
// holidays, kiosks, experts, interpreters, reimbursement agreements) and the
// monthly statistics.
//
// This module is the page's front: start-up, sign-in, the navigation between
// sections and the wiring that redraws them. Each section is built and drawn
// by its module in `sections/` (the operations view in `operations.js`,
// statistics with its chart in `statistics.js`), out of the form and table
// kit in `kit.js` and the weekly hours in `hours.js`; `store.js` holds the
// directory and the booking API.
//
// One section is shown at a time; the in-page navigation is a list of links
// (`#operations`, `#agencies`, …, `#statistics`) so the back button and
// bookmarks work. The operations view comes first and is shown by default:
// it is what an admin opens the page for; it refreshes only while shown.
// Writes are upserts (POST), so "Edit" fills the form and saving replaces.

import { demoIdentities, demoTokenSource, identityProviders, requestedSubject, sessionTokenSource } from '../shared/auth.js';
import { onLanguageChange, t, translate } from '../shared/i18n.js';
import { addSignOut } from '../shared/signout.js';
import { announce, byId, h, replace, setUpLanguagePicker } from '../shared/ui.js';
import { presetHours, renameWeekdayLegends } from './hours.js';
import { input, msg, select, showProblem } from './kit.js';
import { operationsSection, renderOperations, setOperationsShown } from './operations.js';
import { agenciesSection, renderAgencies } from './sections/agencies.js';
import { agreementsSection } from './sections/agreements.js';
import { expertsSection, renderExpertServices, renderExperts } from './sections/experts.js';
import { interpretersSection, renderInterpreters } from './sections/interpreters.js';
import { kiosksSection, renderKiosks } from './sections/kiosks.js';
import { pointsSection, renderPoints } from './sections/points.js';
import { renderServices, servicesSection } from './sections/services.js';
import { loadStatisticsUnlessLoaded, renderStatistics, statisticsSection } from './statistics.js';
import { connectBookingApi, fillDirectorySelects, loadDirectory, onDirectoryLoaded } from './store.js';

const CATALOGUES = './i18n/';
const LANGUAGE_KEY = 'silta.admin.language';

const SECTIONS = /** @type {const} */ (['operations', 'agencies', 'services', 'points', 'kiosks', 'experts', 'interpreters', 'agreements', 'statistics']);
/** @typedef {typeof SECTIONS[number]} Section */

/**
 * @param {string} name
 * @returns {name is Section}
 */
function isSection(name) {
  return SECTIONS.includes(/** @type {Section} */ (name));
}

const state = {
  /** @type {Section} */
  section: 'operations',
  /** @type {string | null} */ subject: null,
  signedIn: false,
};

// ---------------------------------------------------------------------------
// Navigation

/** @type {Record<Section, () => void>} */
const RENDERERS = {
  operations: renderOperations,
  agencies: renderAgencies,
  services: renderServices,
  points: renderPoints,
  kiosks: renderKiosks,
  experts: renderExperts,
  interpreters: renderInterpreters,
  agreements: () => {},
  statistics: renderStatistics,
};

/** @type {Record<Section, () => HTMLElement[]>} */
const BUILDERS = {
  operations: operationsSection,
  agencies: agenciesSection,
  services: servicesSection,
  points: pointsSection,
  kiosks: kiosksSection,
  experts: expertsSection,
  interpreters: interpretersSection,
  agreements: agreementsSection,
  statistics: statisticsSection,
};

function buildApp() {
  const main = byId('main');
  const nav = h(
    'nav',
    { class: 'sections', 'aria-label': t('nav.label'), 'data-i18n-attr': 'aria-label=nav.label' },
    h('ul', {}, ...SECTIONS.map((name) => h('li', {}, msg('a', `section.${name}`, { href: `#${name}`, id: `nav-${name}` })))),
  );
  const sections = SECTIONS.map((name) =>
    h(
      'section',
      { id: name, class: 'panel', 'aria-labelledby': `${name}-title`, hidden: true },
      msg('h2', `section.${name}`, { id: `${name}-title`, tabindex: -1 }),
      msg('p', `intro.${name}`, { class: 'muted' }),
      ...BUILDERS[name](),
    ),
  );
  replace(main, nav, ...sections);
  translate(main);
  refreshSelects();
  presetHours('point', '09:00', '16:00');
  presetHours('expert', '08:00', '16:00');
  presetHours('interpreter', '08:00', '16:00');
  input('service-remote').checked = true;
  input('kiosk-active').checked = true;
  window.addEventListener('hashchange', () => {
    const name = location.hash.slice(1);
    if (isSection(name)) showSection(name, true);
  });
}

/**
 * @param {Section} name
 * @param {boolean} [moveFocus]
 */
function showSection(name, moveFocus = false) {
  state.section = name;
  for (const other of SECTIONS) {
    const section = byId(other);
    if (other === name) section.removeAttribute('hidden');
    else section.setAttribute('hidden', '');
    const link = byId(`nav-${other}`);
    if (other === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  updateTitle();
  setOperationsShown(name === 'operations');
  if (name === 'statistics') loadStatisticsUnlessLoaded();
  if (moveFocus) {
    byId(`${name}-title`).focus();
    announce(t('nav.shown', { section: t(`section.${name}`) }));
  }
}

function updateTitle() {
  document.title = state.signedIn ? t('app.documentTitle', { section: t(`section.${state.section}`) }) : t('app.title');
}

// ---------------------------------------------------------------------------
// Drawing the directory

/** Fills the directory's selects, then the experts' service checkboxes (which follow the chosen agency). */
function refreshSelects() {
  fillDirectorySelects();
  renderExpertServices();
}

function renderDirectory() {
  refreshSelects();
  for (const name of SECTIONS) RENDERERS[name]();
}

function renderAll() {
  updateTitle();
  renderWho();
  if (!state.signedIn) return;
  renameWeekdayLegends();
  renderDirectory();
}

function renderWho() {
  const who = byId('who');
  who.textContent = state.subject && state.signedIn ? t('signin.as', { subject: state.subject }) : '';
}

// ---------------------------------------------------------------------------
// Sign-in

/** The demo identity to use: `?as=`, or one picked on a small form. */
async function chooseSubject() {
  const requested = requestedSubject();
  if (requested) return requested;
  const identities = await demoIdentities('admin');
  const main = byId('main');
  if (!identities.length) {
    replace(main, h('section', { class: 'panel', 'aria-labelledby': 'signin-title' }, msg('h2', 'signin.title', { id: 'signin-title' }), msg('p', 'signin.unavailable')));
    return null;
  }
  const choice = h('select', { id: 'signin-subject', name: 'subject' }, ...identities.map((identity) => h('option', { value: identity.subject }, `${identity.subject} – ${identity.description}`)));
  const form = h(
    'form',
    { id: 'signin-form', 'aria-labelledby': 'signin-title' },
    msg('h2', 'signin.title', { id: 'signin-title' }),
    h('div', { class: 'field' }, msg('label', 'signin.choose', { for: 'signin-subject' }), choice),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, msg('span', 'signin.submit'))),
  );
  replace(main, h('section', { class: 'panel signin' }, form));
  return new Promise((resolve) => {
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const subject = /** @type {HTMLSelectElement} */ (choice).value;
      const url = new URL(location.href);
      url.searchParams.set('as', subject);
      history.replaceState(null, '', url);
      resolve(subject);
    });
  });
}

async function start() {
  await setUpLanguagePicker(select('language'), CATALOGUES, LANGUAGE_KEY);
  updateTitle();
  onLanguageChange(renderAll);
  // Signed in through an identity provider, or (silta dev) a demo identity.
  const session = requestedSubject() ? null : await sessionTokenSource((code) => location.assign(`/signin/?app=admin&error=${encodeURIComponent(code)}`));
  if (!session && !requestedSubject() && (await identityProviders()).length > 0) {
    location.assign('/signin/?app=admin');
    return;
  }
  const subject = session ? session.subject : await chooseSubject();
  if (!subject) return;
  state.subject = subject;
  connectBookingApi(session ?? demoTokenSource(subject));
  if (session) addSignOut();
  onDirectoryLoaded(renderDirectory);
  buildApp();
  state.signedIn = true;
  renderWho();
  const initial = location.hash.slice(1);
  showSection(isSection(initial) ? initial : 'operations');
  try {
    await loadDirectory();
    announce(t('app.ready', { subject }));
  } catch (error) {
    const main = byId('main');
    const box = h('div', { class: 'form-errors', role: 'alert', tabindex: -1 });
    main.prepend(box);
    showProblem(box, error);
  }
}

start().catch((error) => {
  console.error('silta admin:', error);
  const main = document.getElementById('main');
  if (main) replace(main, h('p', { class: 'form-errors', role: 'alert' }, t('error.generic', { code: error?.code ?? 'internal' })));
});
