// Checks the web apps' message catalogues: every catalogue of a directory
// (web/shared/i18n, web/<app>/i18n) has the same keys in every language, and
// every key the pages name literally — `data-i18n="…"`, `data-i18n-attr`
// pairs in HTML and in scripts, `t('…')` in scripts — is in a catalogue the
// page loads (the shared one or its app's), in every language. A missing key
// shows on screen as the key itself, so this fails instead.
//
// An app's own language (the kiosk's Northern Sámi, se) is one file holding
// the app's keys, the shared keys the app can show (all but the staff-only
// parts below, which no module the app loads names) and `language.name` and
// `language.review`.
//
//   node check-i18n.mjs

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const web = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web');

/** The catalogues of a directory, by language. @param {string} dir */
function catalogues(dir) {
  const folder = path.join(dir, 'i18n');
  if (!existsSync(folder)) return new Map();
  return new Map(
    readdirSync(folder)
      .filter((name) => name.endsWith('.json'))
      .map((name) => [name.slice(0, -5), new Set(Object.keys(JSON.parse(readFileSync(path.join(folder, name), 'utf8'))))]),
  );
}

/** Files under `dir` (not its i18n folders) ending in one of `endings`. */
function files(dir, endings) {
  const found = [];
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) {
      if (name !== 'i18n' && name !== 'types') found.push(...files(file, endings));
    } else if (endings.some((ending) => name.endsWith(ending))) found.push(file);
  }
  return found;
}

/** The keys a page or script names literally (not in comments). @param {string} text */
function keysIn(text) {
  text = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '').replace(/<!--[\s\S]*?-->/g, '');
  const keys = new Set();
  for (const match of text.matchAll(/data-i18n=["']([\w.-]+)["']/g)) keys.add(match[1]);
  for (const match of text.matchAll(/'data-i18n':\s*'([\w.-]+)'/g)) keys.add(match[1]);
  for (const match of text.matchAll(/data-i18n-attr["']?\s*[:=]\s*["']([^"']+)["']/g)) {
    for (const pair of match[1].split(';')) {
      const key = pair.split('=')[1]?.trim();
      if (key && /^[\w.-]+$/.test(key)) keys.add(key);
    }
  }
  for (const match of text.matchAll(/\bt\(\s*'([\w.-]+)'/g)) keys.add(match[1]);
  return keys;
}

/** Shared keys of the staff apps' parts: an app's own language leaves them out. */
const STAFF_ONLY = ['booking.', 'offer.', 'presence.', 'signin.', 'controls.', 'outcome.', 'document.'];
/** What describes an app's own language, in its file. */
const LANGUAGE_KEYS = ['language.name', 'language.review'];

/** The shared modules an app loads, following imports from its own scripts. @param {string} app */
function sharedModulesOf(app) {
  const seen = new Set();
  const queue = files(path.join(web, app), ['.js']);
  while (queue.length > 0) {
    const file = /** @type {string} */ (queue.pop());
    for (const match of readFileSync(file, 'utf8').matchAll(/^import\s[^;]*?from\s+'([^']+)'/gm)) {
      const target = path.resolve(path.dirname(file), match[1]);
      if (target.startsWith(path.join(web, 'shared')) && !seen.has(target)) {
        seen.add(target);
        queue.push(target);
      }
    }
  }
  return [...seen];
}

const problems = [];
const shared = catalogues(path.join(web, 'shared'));
const languages = [...shared.keys()].sort();
const apps = readdirSync(web).filter((name) => name !== 'shared' && existsSync(path.join(web, name, 'i18n')));
/** @type {Map<string, Map<string, Set<string>>>} */
const byApp = new Map(apps.map((app) => [app, catalogues(path.join(web, app))]));
const sharedKeys = [...(shared.get('fi') ?? [])];

// Same keys in every language of a directory, and every language present.
for (const [dir, set] of [['shared', shared], ...byApp]) {
  const all = new Set([...set.entries()].filter(([language]) => languages.includes(language)).flatMap(([, keys]) => [...keys]));
  for (const language of languages) {
    const keys = set.get(language);
    if (!keys) {
      problems.push(`web/${dir}/i18n/${language}.json is missing`);
      continue;
    }
    for (const key of all) if (!keys.has(key)) problems.push(`web/${dir}/i18n/${language}.json lacks "${key}"`);
  }
  // An app's own language: one file with everything the app can show.
  for (const [language, keys] of set) {
    if (languages.includes(language)) continue;
    if (dir === 'shared') {
      problems.push(`web/shared/i18n/${language}.json: a language of its own belongs to an app's folder`);
      continue;
    }
    const wanted = [...all, ...sharedKeys.filter((key) => !STAFF_ONLY.some((prefix) => key.startsWith(prefix))), ...LANGUAGE_KEYS];
    for (const key of new Set(wanted)) if (!keys.has(key)) problems.push(`web/${dir}/i18n/${language}.json lacks "${key}"`);
    // The staff-only parts left out must really be out of the app's reach.
    for (const file of [...files(path.join(web, dir), ['.html', '.js']), ...sharedModulesOf(dir)]) {
      for (const key of keysIn(readFileSync(file, 'utf8'))) {
        if (STAFF_ONLY.some((prefix) => key.startsWith(prefix))) problems.push(`${path.relative(web, file)} names staff-only "${key}", which web/${dir}/i18n/${language}.json leaves out`);
      }
    }
  }
}

// Every key named by an app's pages and scripts is in its catalogues.
for (const app of apps) {
  const own = byApp.get(app) ?? new Map();
  const ownLanguages = [...own.keys()].filter((language) => !languages.includes(language));
  for (const file of files(path.join(web, app), ['.html', '.js'])) {
    for (const key of keysIn(readFileSync(file, 'utf8'))) {
      for (const language of languages) {
        if (!(shared.get(language)?.has(key) || own.get(language)?.has(key))) {
          problems.push(`${path.relative(web, file)} names "${key}", missing from web/shared and web/${app} (${language})`);
        }
      }
      for (const language of ownLanguages) {
        if (!own.get(language)?.has(key)) problems.push(`${path.relative(web, file)} names "${key}", missing from web/${app}/i18n/${language}.json`);
      }
    }
  }
}
// Shared scripts run in every app: a key they name is in the shared
// catalogue or in an app's (an app that shows that part).
for (const file of files(path.join(web, 'shared'), ['.js'])) {
  for (const key of keysIn(readFileSync(file, 'utf8'))) {
    for (const language of languages) {
      const somewhere = shared.get(language)?.has(key) || apps.some((app) => byApp.get(app)?.get(language)?.has(key));
      if (!somewhere) problems.push(`${path.relative(web, file)} names "${key}", in no catalogue (${language})`);
    }
  }
}

if (problems.length > 0) {
  console.error(`message catalogues: ${problems.length} problem(s)\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
const own = apps.flatMap((app) => [...(byApp.get(app)?.keys() ?? [])].filter((language) => !languages.includes(language)).map((language) => `${app}: ${language}`));
console.log(`message catalogues: ${languages.join(', ')} complete for shared and ${apps.join(', ')}${own.length ? `; own languages complete (${own.join(', ')})` : ''}`);
