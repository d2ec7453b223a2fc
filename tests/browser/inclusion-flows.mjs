// Service for everyone, as people use it.
//
// `live-text`: real-time text in a call. An expert types and the citizen
// reads it at the kiosk while it is being typed; the citizen answers on the
// kiosk's on-screen keyboard; it goes on after the advisor hands off,
// reaches an interpreter who joins mid-line, and survives a transfer to
// another agency. Afterwards nothing of what was typed is anywhere: not in
// the data directory (databases included), not in the server's log at debug
// level, not in the spans and metrics it exported over OTLP.
//
// `kiosk-for-everyone`: a citizen who uses the kiosk by keyboard alone
// turns on larger text and high contrast, writes to the expert and gives
// feedback; the display is back to normal for the next citizen. Audio cues
// are off until the admin turns them on for the kiosk on the admin page;
// then the next call plays one when the expert joins and one when it ends.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { OtlpSink, assert, assertMediaFlows, capture, eventually, openKiosk, openStaff, participantsByRole, sleep } from './lib.mjs';
import { acceptInterpretation, callExpert, endByExpert, idOf, walkIn, withSystem } from './flows.mjs';

/** The touch screens a kiosk is mounted on. */
const KIOSK_DISPLAYS = [
  ['portrait', { width: 1080, height: 1920 }],
  ['landscape', { width: 1920, height: 1080 }],
];

/** What the typed lines say: distinctive, so a search for them means something. */
const EXPERT_FIRST = 'Verokortti kahdeksantoista sinisellä';
const EXPERT_AFTER_HANDOFF = 'Kuittikopio kolmesataa';
const INTERPRETER_LINE = 'Tolkningen pågår smaragd';
const KELA_LINE = 'Asumistuki oranssi kirjekuori';
const KIOSK_WORDS = ['zebra', 'kala'];

/** The text a page shows for a participant's line being typed. */
function typingOf(page, participant) {
  return page.evaluate((id) => {
    const line = document.querySelector(`.live-text-typing [data-from="${id}"] .live-text-words`);
    return line?.textContent ?? null;
  }, participant);
}

/** The finished lines a page shows, as "who: text". */
function logOf(page) {
  return page.evaluate(() => [...document.querySelectorAll('.live-text-log p')].map((line) => line.textContent ?? ''));
}

/** Waits until a page's log has a line from `participant` saying `text`. */
async function logged(page, participant, text, what) {
  await eventually(
    () =>
      page.evaluate(
        ({ id, words }) =>
          [...document.querySelectorAll(`.live-text-log p[data-from="${id}"] .live-text-words`)].some((span) => span.textContent === words),
        { id: participant, words: text },
      ),
    what,
  );
}

/** Types into a page's live-text field as a person does, key by key. */
async function typeSlowly(page, text) {
  await page.locator('.live-text-input').click();
  await page.keyboard.type(text, { delay: 40 });
}

/** Every file under `dir` whose bytes contain one of `needles`. */
function filesContaining(dir, needles) {
  const found = [];
  const walk = (at) => {
    for (const name of readdirSync(at)) {
      const file = path.join(at, name);
      if (statSync(file).isDirectory()) walk(file);
      else {
        const bytes = readFileSync(file);
        for (const needle of needles) if (bytes.includes(Buffer.from(needle))) found.push(`${file}: ${needle}`);
      }
    }
  };
  walk(dir);
  return found;
}

export const inclusionFlows = [
  {
    name: 'live-text',
    timeoutMs: 240_000,
    async run() {
      const otlp = await OtlpSink.start();
      try {
        await withSystem(
          async (server, browser) => {
            const { kiosk, advisor, expert } = await walkIn(server, browser, { prefix: 'live-text', language: 'fi' });
            const expertId = await idOf(kiosk, 'expert');
            const kioskId = await idOf(expert, 'kiosk');
            // The kiosk's panel is closed until someone writes.
            assert(await kiosk.locator('#live-text').isHidden(), 'the kiosk starts with the text panel closed');

            // The expert types; the citizen sees the words as they come, before Enter.
            await typeSlowly(expert, EXPERT_FIRST.slice(0, 10));
            await eventually(async () => (await typingOf(kiosk, expertId)) === EXPERT_FIRST.slice(0, 10), 'the first words at the kiosk while typed');
            assert(await kiosk.locator('#live-text').isVisible(), 'text from the expert opens the kiosk panel');
            const label = (await kiosk.locator(`.live-text-typing [data-from="${expertId}"] .live-text-who`).textContent()) ?? '';
            assert(label.length > 2 && !label.includes('VERO'), `the kiosk names the writer by role and agency name: ${label}`);
            await expert.keyboard.type(EXPERT_FIRST.slice(10), { delay: 20 });
            await eventually(async () => (await typingOf(kiosk, expertId)) === EXPERT_FIRST, 'the whole line at the kiosk before Enter');
            await eventually(async () => (await typingOf(advisor, expertId)) === EXPERT_FIRST, 'the advisor sees it too');
            await expert.keyboard.press('Enter');
            await logged(kiosk, expertId, EXPERT_FIRST, 'the finished line in the kiosk log');
            assert((await typingOf(kiosk, expertId)) === null, 'a finished line is no longer shown as being typed');
            assert((await expert.locator('.live-text-input').inputValue()) === '', 'Enter clears the field');
            // On the kiosk's touch screens the panel, its log and every key fit.
            for (const [name, viewport] of KIOSK_DISPLAYS) {
              await kiosk.setViewportSize(viewport);
              await sleep(300);
              const fit = await kiosk.evaluate(() => {
                const inside = (element) => {
                  const box = element.getBoundingClientRect();
                  return box.top >= 0 && box.left >= 0 && box.bottom <= innerHeight + 1 && box.right <= innerWidth + 1;
                };
                const keys = [...document.querySelectorAll('.osk-key')];
                const small = keys.filter((key) => key.getBoundingClientRect().width < 44 || key.getBoundingClientRect().height < 44);
                const log = document.querySelector('.live-text-log')?.getBoundingClientRect();
                // The call's picture: the stage the large tiles share
                // (whoever speaks is large too: the fake microphones all
                // beep, so the expert's tile alone may be half of it).
                const video = document.getElementById('stage')?.getBoundingClientRect();
                const expertTile = document.querySelector('.tile[data-role="expert"]')?.getBoundingClientRect();
                return {
                  keys: keys.length,
                  outside: keys.filter((key) => !inside(key)).length + (inside(document.querySelector('.live-text-input')) ? 0 : 1),
                  small: small.length,
                  logHeight: Math.round(log?.height ?? 0),
                  videoHeight: Math.round(video?.height ?? 0),
                  expertHeight: Math.round(expertTile?.height ?? 0),
                };
              });
              if (fit.outside > 0) await kiosk.screenshot({ path: '/tmp/kiosk-fit.png' });
              assert(fit.keys > 30 && fit.outside === 0, `${name}: every key and the field on screen: ${JSON.stringify(fit)}`);
              assert(fit.small === 0, `${name}: keys are touch targets of 44 px or more: ${JSON.stringify(fit)}`);
              if (fit.logHeight < 80) await kiosk.screenshot({ path: '/tmp/kiosk-fit.png' });
              assert(fit.logHeight >= 80 && fit.videoHeight >= 250 && fit.expertHeight >= 120, `${name}: the log and the call's video keep room: ${JSON.stringify(fit)}`);
              await capture(kiosk, `live-text-kiosk-${name}`);
            }
            await capture(expert, 'live-text-expert');

            // The citizen answers on the on-screen keyboard (touch alone).
            const osk = kiosk.locator('.osk');
            const press = (key) => osk.locator(`button[data-key="${key}"]`).click();
            await press('shift');
            for (const letter of KIOSK_WORDS[0]) await press(letter);
            await press('space');
            for (const letter of KIOSK_WORDS[1].slice(0, 2)) await press(letter);
            const kioskLine = `Z${KIOSK_WORDS[0].slice(1)} ${KIOSK_WORDS[1]}`;
            await eventually(async () => (await typingOf(expert, kioskId)) === kioskLine.slice(0, -2), 'the citizen\'s words at the expert while typed');
            for (const letter of KIOSK_WORDS[1].slice(2)) await press(letter);
            await press('backspace');
            await press('a');
            await press('enter');
            await logged(expert, kioskId, kioskLine, 'the citizen\'s line at the expert');
            await logged(kiosk, 'self', kioskLine, 'the citizen\'s own line in the kiosk log');

            // The advisor hands off; the text goes on between citizen and expert.
            await advisor.click('#handoff');
            await eventually(async () => !(await participantsByRole(kiosk)).advisor, 'the advisor to leave');
            await typeSlowly(expert, EXPERT_AFTER_HANDOFF);
            await expert.keyboard.press('Enter');
            await logged(kiosk, expertId, EXPERT_AFTER_HANDOFF, 'text after the hand-off');

            // An interpreter joins while the expert is in the middle of a line.
            const interpreter = await browser.page('interpreter');
            await openStaff(interpreter, server.base, 'interpreter', 'interpreter-sv-1');
            await interpreter.click('#presence');
            await typeSlowly(expert, 'Odottakaa hetki');
            await acceptInterpretation(expert, interpreter, 'sv');
            await eventually(async () => (await typingOf(interpreter, expertId)) === 'Odottakaa hetki', 'the line being typed reaches the interpreter who joined mid-line');
            await expert.locator('.live-text-input').fill('');
            await expert.locator('.live-text-input').press('Enter');
            await eventually(async () => (await typingOf(kiosk, expertId)) === null, 'an erased line goes from the kiosk');
            await typeSlowly(interpreter, INTERPRETER_LINE);
            await interpreter.keyboard.press('Enter');
            const interpreterId = await idOf(kiosk, 'interpreter');
            await logged(kiosk, interpreterId, INTERPRETER_LINE, 'the interpreter\'s line at the kiosk');
            await logged(expert, interpreterId, INTERPRETER_LINE, 'the interpreter\'s line at the expert');
            await capture(interpreter, 'live-text-interpreter');

            // A transfer: Kela comes in, Vero leaves; Kela's text reaches the kiosk.
            const kela = await browser.page('expert-kela');
            await openStaff(kela, server.base, 'expert', 'expert-kela-1');
            await kela.click('#presence');
            await expert.selectOption('#transfer-agency', 'KELA');
            await expert.selectOption('#transfer-language', 'fi');
            await expert.click('#transfer-form button[type="submit"]');
            const transfer = kela.locator('.offer[data-kind="transfer"]');
            await transfer.waitFor();
            await transfer.locator('button[data-action="accept"]').click();
            await eventually(async () => ((await participantsByRole(kiosk)).expert ?? []).length === 2, 'both experts in the room');
            await expert.locator('#leave').click();
            await eventually(async () => ((await participantsByRole(kiosk)).expert ?? []).length === 1, 'the first expert to leave');
            const kelaId = await idOf(kiosk, 'expert');
            await eventually(() => kela.evaluate(() => window.siltaApp.session?.media.channel.readyState === 'open'), 'the Kela expert\'s call channel open');
            await typeSlowly(kela, KELA_LINE);
            await kela.keyboard.press('Enter');
            await logged(kiosk, kelaId, KELA_LINE, 'the Kela expert\'s line at the kiosk');
            await logged(interpreter, kelaId, KELA_LINE, 'the Kela expert\'s line at the interpreter');
            // What the citizen saw earlier is still there: the panel follows the call, not the expert.
            assert((await logOf(kiosk)).some((line) => line.includes(EXPERT_FIRST)), 'the earlier lines stay on the kiosk during the call');
            // The panel works by keyboard alone: Tab reaches the field, typing and Enter send.
            await kiosk.locator('.live-text-input').focus();
            await kiosk.keyboard.type('ok', { delay: 30 });
            await kiosk.keyboard.press('Enter');
            await logged(kela, kioskId, 'ok', 'a line typed on a physical keyboard at the kiosk');

            await endByExpert(kela, kiosk);
            assert((await kiosk.locator('.live-text-log p').count()) === 0, 'after the call the kiosk shows none of the text');
            // Nothing typed is in the data directory (SQLite databases and their journals).
            await sleep(1000);
            const secrets = [EXPERT_FIRST, EXPERT_AFTER_HANDOFF, INTERPRETER_LINE, KELA_LINE, kioskLine, 'Odottakaa hetki'];
            const stored = filesContaining(server.dataDir, secrets);
            assert(stored.length === 0, `typed text stored:\n${stored.join('\n')}`);
            server.secrets = secrets;
          },
          { env: { SILTA_LOG__FILTER: 'debug', SILTA_TELEMETRY__OTLP_ENDPOINT: otlp.endpoint }, keepLog: true },
          async (server) => {
            // After the server stopped (its spans flushed): the log and the exports.
            const log = server.fullLog();
            assert(log.length > 10_000, `the debug log was captured (${log.length} bytes)`);
            const exported = otlp.bytes();
            assert(otlp.receivedSpans() && exported.length > 1000, `spans were exported (${exported.length} bytes)`);
            for (const secret of server.secrets ?? []) {
              assert(!log.includes(Buffer.from(secret)), `the server log holds typed text: ${secret}`);
              assert(!exported.includes(Buffer.from(secret)), `the OTLP export holds typed text: ${secret}`);
            }
          },
        );
      } finally {
        await otlp.close();
      }
    },
  },
  {
    name: 'kiosk-for-everyone',
    timeoutMs: 240_000,
    async run() {
      await withSystem(async (server, browser) => {
        const pages = await openThree(server, browser);
        const { kiosk, advisor, expert } = pages;

        // By keyboard alone: Tab to the display button, Enter.
        await focusByTab(kiosk, '#display-mode');
        await kiosk.keyboard.press('Enter');
        assert((await kiosk.evaluate(() => document.body.dataset.display)) === 'large', 'Enter on the display button gives larger text and high contrast');
        assert((await kiosk.locator('#display-mode').getAttribute('aria-pressed')) === 'true', 'the button says it is on');
        const normalSize = await kiosk.evaluate(() => parseFloat(getComputedStyle(document.querySelector('.kiosk-status')).fontSize));
        for (const [name, viewport] of KIOSK_DISPLAYS) {
          await kiosk.setViewportSize(viewport);
          await assertFits(kiosk, `large display, idle, ${name}`);
          await capture(kiosk, `everyone-large-idle-${name}`);
        }
        await kiosk.setViewportSize({ width: 1920, height: 1080 });

        // A call; audio cues are off by default.
        await callExpert(pages, { prefix: 'everyone', agency: 'VERO', language: 'fi' });
        assert((await kiosk.evaluate(() => document.body.dataset.display)) === 'large', 'the display stays large into the call');
        await assertFits(kiosk, 'large display, in the call');
        await capture(kiosk, 'everyone-large-call');
        // Writing to the expert by keyboard alone.
        const kioskId = await idOf(expert, 'kiosk');
        await focusByTab(kiosk, '#text-toggle');
        await kiosk.keyboard.press('Enter');
        await kiosk.locator('#live-text').waitFor({ state: 'visible' });
        await focusByTab(kiosk, '.live-text-input');
        await kiosk.keyboard.type('Kuulen huonosti', { delay: 30 });
        await kiosk.keyboard.press('Enter');
        await eventually(
          () => expert.evaluate((id) => [...document.querySelectorAll(`.live-text-log [data-from="${id}"]`)].some((line) => line.textContent?.includes('Kuulen huonosti')), kioskId),
          'the line typed by keyboard alone at the expert',
        );
        for (const [name, viewport] of KIOSK_DISPLAYS) {
          await kiosk.setViewportSize(viewport);
          await assertFits(kiosk, `large display, writing, ${name}`);
          await capture(kiosk, `everyone-large-text-${name}`);
        }
        await endByExpert(expert, kiosk);
        assert((await kiosk.evaluate(() => window.siltaApp.cues.length)) === 0, 'no audio cue while the admin has not turned them on');
        // Feedback by keyboard alone: Tab to a face, Enter, Tab to send, Enter.
        await focusByTab(kiosk, '#faces button[data-score="5"]');
        await kiosk.keyboard.press('Enter');
        await focusByTab(kiosk, '#feedback-send');
        await kiosk.keyboard.press('Enter');
        await eventually(async () => (await kiosk.evaluate(() => document.body.dataset.screen)) === 'idle', 'the kiosk back at the start', 20_000);
        assert((await kiosk.evaluate(() => document.body.dataset.display)) === undefined, 'the next citizen starts with the usual display');
        const size = await kiosk.evaluate(() => parseFloat(getComputedStyle(document.querySelector('.kiosk-status')).fontSize));
        assert(size < normalSize, `the large display's text was larger (${normalSize} px; now ${size} px)`);

        // The admin turns audio cues on for this kiosk on the admin page.
        const admin = await browser.page('admin');
        await admin.goto(`${server.base}/admin/?as=admin-1&lang=fi`);
        await admin.locator('#operations[data-state="ready"]').waitFor({ timeout: 20_000 });
        await admin.locator('nav a[href="#kiosks"]').click();
        const row = admin.locator('#kiosks-table tr', { hasText: 'kiosk-kemi-1' });
        await row.locator('button').click();
        await admin.locator('#kiosk-audio-cues').check();
        await admin.locator('#kiosk-form button[type="submit"]').click();
        await eventually(async () => ((await row.textContent()) ?? '').match(/Kyllä.*Kyllä/) !== null, 'the kiosks table to show audio cues on');
        await capture(admin, 'everyone-admin-audio-cues');

        // The next call plays a cue when the expert joins and when it ends.
        await callExpert(pages, { prefix: 'everyone-cues', agency: 'VERO', language: 'fi' });
        await eventually(async () => (await kiosk.evaluate(() => window.siltaApp.cues.join(','))) === 'joined', 'a cue when the expert joined');
        assert((await kiosk.evaluate(() => window.siltaApp.audio?.state)) === 'running', 'the cue went to a running audio output');
        await endByExpert(expert, kiosk);
        await eventually(async () => (await kiosk.evaluate(() => window.siltaApp.cues.join(','))) === 'joined,ended', 'a cue when the call ended');
      });
    },
  },
  {
    name: 'sign-language',
    async run() {
      await withSystem(async (server, browser) => {
        const { kiosk, advisor, expert } = await walkIn(server, browser, { prefix: 'sign', language: 'fi' });
        await kiosk.setViewportSize({ width: 1920, height: 1080 });
        const interpreter = await browser.page('interpreter');
        await openStaff(interpreter, server.base, 'interpreter', 'interpreter-fse-1');
        await interpreter.click('#presence');
        const preference = (page) => page.evaluate(() => window.siltaApp.session?.media.cameraSender?.getParameters().degradationPreference ?? null);
        assert((await preference(kiosk)) !== 'maintain-framerate', 'a spoken-language call sends the kiosk camera as the browser balances it');
        // The expert brings in a Finnish Sign Language interpreter.
        await acceptInterpretation(expert, interpreter, 'fse');
        const interpreterId = await idOf(kiosk, 'interpreter');
        const kioskId = await idOf(expert, 'kiosk');
        // Both signers are known everywhere; their cameras are sent for motion.
        await eventually(async () => (await kiosk.evaluate(() => [...window.siltaApp.session.signing].sort().join(','))) === [interpreterId, kioskId].sort().join(','), 'the kiosk to know who signs');
        await eventually(async () => (await preference(interpreter)) === 'maintain-framerate', 'the interpreter camera sent for motion');
        await eventually(async () => (await preference(kiosk)) === 'maintain-framerate', 'the signing citizen\'s camera sent for motion');
        assert((await preference(expert)) !== 'maintain-framerate', 'the expert speaks: their camera as the browser balances it');
        await assertMediaFlows(kiosk, 'the kiosk', ['expert', 'interpreter']);

        // The citizen sees the interpreter large, never a thumbnail, beside the expert.
        const largeRoles = (page) => page.evaluate(() => [...document.querySelectorAll('.tile[data-source="camera"]')].filter((tile) => tile.dataset.size === 'large').map((tile) => tile.dataset.role));
        await eventually(async () => (await largeRoles(kiosk)).includes('interpreter'), 'the interpreter large at the kiosk');
        const sizes = await kiosk.evaluate(() => {
          const box = (role) => document.querySelector(`.tile[data-role="${role}"][data-source="camera"]`)?.getBoundingClientRect();
          const interpreterBox = box('interpreter');
          const expertBox = box('expert');
          const self = document.querySelector('.tile.self')?.getBoundingClientRect();
          return {
            interpreter: interpreterBox?.width ?? 0,
            expert: expertBox?.width ?? 0,
            thumbnail: self?.width ?? 0,
            // The thumbnails share one column at the right; a tile left of it is not a thumbnail.
            leftOfThumbnails: Boolean(interpreterBox && self && interpreterBox.right <= self.left + 1),
            sideBySide: Boolean(interpreterBox && expertBox && Math.abs(interpreterBox.top - expertBox.top) < 5),
          };
        });
        // Whoever speaks (the fake microphones all beep) is large too, so
        // the large tiles may be three and only a little wider than the
        // thumbnails' column: the interpreter is compared with the expert
        // and placed against the thumbnails, not measured against them.
        assert(sizes.interpreter >= sizes.expert * 0.9 && sizes.interpreter > sizes.thumbnail && sizes.leftOfThumbnails, `the interpreter as large as the expert, not a thumbnail: ${JSON.stringify(sizes)}`);
        assert(sizes.sideBySide, `the interpreter beside the expert: ${JSON.stringify(sizes)}`);
        // Even while the advisor speaks, the interpreter stays large.
        await kiosk.evaluate((id) => window.siltaApp.session.view.setActiveSpeaker(id), await idOf(kiosk, 'advisor'));
        await sleep(200);
        assert((await largeRoles(kiosk)).includes('interpreter'), 'the interpreter stays large while another speaks');
        await capture(kiosk, 'sign-kiosk');
        // The citizen swaps their places.
        const firstLarge = () => kiosk.evaluate(() => document.querySelector('.tile[data-size="large"][data-source="camera"]')?.getAttribute('data-role'));
        const before = await firstLarge();
        await kiosk.locator('#swap-tiles').waitFor({ state: 'visible' });
        await kiosk.locator('#swap-tiles').click();
        const after = await firstLarge();
        assert(before !== after && ['interpreter', 'expert', 'advisor'].includes(after ?? ''), `swapped: ${before} → ${after}`);
        await capture(kiosk, 'sign-kiosk-swapped');

        // The expert sees the interpreter large too, and pins the advisor.
        await eventually(async () => (await largeRoles(expert)).includes('interpreter'), 'the interpreter large at the expert');
        assert(!(await largeRoles(expert)).includes('advisor') || (await expert.evaluate(() => window.siltaApp.session.view.activeSpeaker)) !== null, 'the advisor small at the expert until pinned');
        const pin = expert.locator('.tile[data-role="advisor"][data-source="camera"] .tile-pin');
        await pin.click();
        assert((await pin.getAttribute('aria-pressed')) === 'true', 'the pin says it is on');
        await eventually(async () => (await largeRoles(expert)).includes('advisor'), 'the pinned advisor large at the expert');
        await capture(expert, 'sign-expert-pinned');
        await pin.click();
        await capture(interpreter, 'sign-interpreter');

        // The interpreter leaves: nobody signs, the kiosk camera goes back.
        await interpreter.click('#leave');
        await eventually(async () => (await kiosk.evaluate(() => window.siltaApp.session.signing.size)) === 0, 'nobody signs after the interpreter left');
        await eventually(async () => (await preference(kiosk)) !== 'maintain-framerate', 'the kiosk camera back to the browser\'s balance');
        assert(await kiosk.locator('#swap-tiles').isHidden(), 'nothing to swap without a signer');
        await endByExpert(expert, kiosk);
      });
    },
  },
  {
    name: 'kiosk-sami',
    async run() {
      await withSystem(async (server, browser) => {
        const { kiosk, advisor, expert } = await openThree(server, browser);
        // The citizen chooses Northern Sámi among the kiosk's languages.
        const sami = kiosk.locator('#language-buttons button[lang="se"]');
        assert((await sami.textContent()) === 'Davvisámegiella', 'the kiosk offers Davvisámegiella');
        await sami.click();
        await eventually(async () => (await kiosk.evaluate(() => document.documentElement.lang)) === 'se', 'the page in Northern Sámi');
        assert((await kiosk.locator('#idle-title').textContent()) === 'Bures boahtin', 'the welcome in Northern Sámi');
        assert((await rawKeys(kiosk)).length === 0, `untranslated keys at the idle screen: ${await rawKeys(kiosk)}`);
        for (const [name, viewport] of KIOSK_DISPLAYS) {
          await kiosk.setViewportSize(viewport);
          await assertFits(kiosk, `Northern Sámi, idle, ${name}`);
          await capture(kiosk, `sami-idle-${name}`);
        }
        await kiosk.setViewportSize({ width: 1920, height: 1080 });
        // A call in Finnish (no expert speaks Sámi today), the kiosk in Sámi.
        await callExpert({ kiosk, advisor, expert }, { prefix: 'sami', agency: 'VERO', language: 'fi' });
        assert((await kiosk.evaluate(() => document.documentElement.lang)) === 'se', 'the kiosk stays in Northern Sámi in the call');
        await kiosk.locator('#text-toggle').click();
        for (const letter of ['á', 'š', 'ŧ', 'đ', 'ŋ', 'č', 'ž']) {
          assert((await kiosk.locator(`.osk button[data-key="${letter}"]`).count()) === 1, `the Sámi keyboard has ${letter}`);
        }
        for (const letter of ['b', 'u', 'r', 'e', 's']) await kiosk.locator(`.osk button[data-key="${letter}"]`).click();
        await kiosk.locator('.osk button[data-key="enter"]').click();
        const kioskId = await idOf(expert, 'kiosk');
        await eventually(
          () => expert.evaluate((id) => [...document.querySelectorAll(`.live-text-log [data-from="${id}"]`)].some((line) => line.textContent?.includes('bures')), kioskId),
          'the Sámi keyboard\'s text at the expert',
        );
        assert((await rawKeys(kiosk)).length === 0, `untranslated keys in the call: ${await rawKeys(kiosk)}`);
        await capture(kiosk, 'sami-call');
        await endByExpert(expert, kiosk);
        assert((await rawKeys(kiosk)).length === 0, `untranslated keys at the feedback screen: ${await rawKeys(kiosk)}`);
        await capture(kiosk, 'sami-feedback');

        // The admin page says the Sámi catalogue waits for a native speaker.
        const admin = await browser.page('admin');
        await admin.goto(`${server.base}/admin/?as=admin-1&lang=fi`);
        await admin.locator('#operations[data-state="ready"]').waitFor({ timeout: 20_000 });
        await admin.locator('nav a[href="#kiosks"]').click();
        const entry = admin.locator('#kiosk-languages li[data-language="se"]');
        await entry.waitFor();
        assert((await entry.getAttribute('data-review')) === 'awaiting_review', 'Northern Sámi is marked as awaiting review');
        assert(((await entry.textContent()) ?? '').includes('odottaa'), `the admin reads that it waits for review: ${await entry.textContent()}`);
        assert((await admin.locator('#kiosk-languages li[data-review="reviewed"]').count()) === 3, 'fi, sv and en are reviewed');
        await capture(admin, 'sami-admin-languages');
      });
    },
  },
];

/** A landscape kiosk at Kemi, its advisor and a Vero expert, signed in, no session yet. */
async function openThree(server, browser) {
  const kiosk = await browser.page('kiosk');
  const advisor = await browser.page('advisor');
  const expert = await browser.page('expert');
  await kiosk.setViewportSize({ width: 1920, height: 1080 });
  await openKiosk(kiosk, server.base, 'kiosk-kemi-1', 'fi');
  await openStaff(advisor, server.base, 'advisor', 'advisor-kemi-1');
  await openStaff(expert, server.base, 'expert', 'expert-vero-1');
  return { kiosk, advisor, expert };
}

/** Text on the page that looks like a catalogue key shown raw (a missing translation). */
function rawKeys(page) {
  return page.evaluate(() => {
    const text = document.body.innerText;
    return [...text.matchAll(/\b[a-z]+(?:\.[a-z_0-9]+)+\b/g)].map((match) => match[0]).filter((word) => !/^\d/.test(word));
  });
}

/** Presses Tab until `selector` has the focus (at most 60 times). */
async function focusByTab(page, selector) {
  for (let presses = 0; presses < 60; presses += 1) {
    if (await page.evaluate((wanted) => document.activeElement?.matches(wanted) ?? false, selector)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`${selector} cannot be reached with Tab`);
}

/** The page fits its screen: nothing wider than it, every button on it. */
async function assertFits(page, what) {
  const fit = await page.evaluate(() => {
    const buttons = [...document.querySelectorAll('button')].filter((button) => button.getClientRects().length > 0 && !button.closest('[hidden]'));
    const off = buttons.filter((button) => {
      const box = button.getBoundingClientRect();
      return box.right > innerWidth + 1 || box.left < -1 || box.bottom > innerHeight + 1;
    });
    // Keys of the on-screen keyboard are not cut off by their panel either.
    const panel = document.querySelector('.kiosk-text:not([hidden]) .live-text')?.getBoundingClientRect();
    const clipped = panel
      ? [...document.querySelectorAll('.osk-key')].filter((key) => key.getBoundingClientRect().bottom > panel.bottom + 1)
      : [];
    return {
      wide: document.documentElement.scrollWidth > innerWidth + 1,
      off: [...off, ...clipped].map((button) => button.id || button.textContent),
    };
  });
  if (fit.wide || fit.off.length > 0) await page.screenshot({ path: '/tmp/fit.png', fullPage: true });
  assert(!fit.wide && fit.off.length === 0, `${what}: the page fits the screen: ${JSON.stringify(fit)}`);
}
