// The seven flows of the brief, each in real Chromium windows through the
// real signal service, SFU and booking service (one `silta dev` per flow).

import {
  Browser,
  CablePull,
  Server,
  assert,
  assertMediaFlows,
  capture,
  checkAccessibility,
  dropUdpPort,
  eventually,
  mediaCounters,
  mediaPort,
  openKiosk,
  openStaff,
  participantsByRole,
  sleep,
  startFrameWatch,
} from './lib.mjs';

const KIOSK = 'kiosk-kemi-1';
const ADVISOR = 'advisor-kemi-1';

/** Runs `body` with a fresh server and browser, and cleans up. */
async function withSystem(body) {
  const server = await Server.start();
  const browser = await Browser.launch();
  try {
    await body(server, browser);
    const errors = browser.errors();
    assert(errors.length === 0, `uncaught page errors:\n${errors.join('\n')}`);
  } finally {
    await browser.close();
    await server.stop();
  }
}

/** The kiosk's current screen. */
const screenOf = (kiosk) => kiosk.evaluate(() => document.body.dataset.screen);

/**
 * Kiosk, advisor and expert windows; the advisor opens a session at the
 * kiosk and asks the queue for `agency` in `language`; the expert becomes
 * available and accepts. Returns the three pages in a call.
 */
export async function walkIn(server, browser, { prefix, expert = 'expert-vero-1', agency = 'VERO', language = 'sv', kioskOrigin = server.base }) {
  const kiosk = await browser.page('kiosk');
  const advisor = await browser.page('advisor');
  const expertPage = await browser.page('expert');
  await openKiosk(kiosk, kioskOrigin, KIOSK, language);
  await openStaff(advisor, server.base, 'advisor', ADVISOR);
  await openStaff(expertPage, server.base, 'expert', expert);
  await capture(kiosk, `${prefix}-kiosk-idle`);

  // The advisor sees the kiosk online and opens a session there.
  const start = advisor.locator(`li[data-kiosk="${KIOSK}"] button`);
  await start.waitFor();
  await capture(advisor, `${prefix}-advisor-kiosks`);
  await start.click();
  await advisor.locator('#session-panel').waitFor({ state: 'visible' });
  await eventually(async () => (await screenOf(kiosk)) === 'session', 'the kiosk to show the session');

  // Walk-in request: agency and language.
  await eventually(() => advisor.locator(`#request-agency option[value="${agency}"]`).count(), 'the agencies to load');
  await advisor.selectOption('#request-agency', agency);
  await advisor.selectOption('#request-language', language);
  await advisor.click('#request-submit');

  // The kiosk waits in the queue with a position and an estimated wait.
  await kiosk.locator('#queue').waitFor({ state: 'visible' });
  const position = await kiosk.locator('#queue-position').textContent();
  assert(position === '1', `queue position shown at the kiosk: ${position}`);
  assert(((await kiosk.locator('#queue-wait').textContent()) ?? '').length > 0, 'the kiosk shows an estimated wait');
  await capture(kiosk, `${prefix}-kiosk-waiting`);
  await capture(expertPage, `${prefix}-expert-queue`);

  // The expert becomes available, is offered the call and accepts.
  await expertPage.click('#presence');
  const offer = expertPage.locator('.offer[data-kind="call"]');
  await offer.waitFor();
  await capture(expertPage, `${prefix}-expert-offer`);
  await offer.locator('button[data-action="accept"]').click();
  await expertPage.locator('#call-panel').waitFor({ state: 'visible' });
  await eventually(async () => (await kiosk.evaluate(() => document.body.dataset.phase)) === 'in_call', 'the kiosk to show the call');
  return { kiosk, advisor, expert: expertPage };
}

/** The expert ends the session; the kiosk asks for feedback. */
async function endByExpert(expert, kiosk, outcome = 'resolved') {
  await expert.selectOption('#end-outcome', outcome);
  await expert.click('#end-form button[type="submit"]');
  await eventually(async () => (await screenOf(kiosk)) === 'feedback', 'the kiosk to ask for feedback');
}

/** The one participant with `role` in a page's room. */
async function idOf(page, role) {
  const ids = await participantsByRole(page);
  const list = ids[role] ?? [];
  assert(list.length === 1, `expected one ${role}, found ${list.length}`);
  return list[0];
}

async function watchedGap(kiosk, participant, sender, during) {
  const watch = await startFrameWatch(kiosk, participant);
  // The sender's own camera, when asked: tells a capture hiccup from a relay stall.
  const source = sender && process.env.SILTA_TEST_VERBOSE ? await startFrameWatch(sender, null) : null;
  await sleep(1000);
  await during();
  await sleep(1500);
  const result = await watch.stop();
  const captured = source ? await source.stop() : null;
  if (process.env.SILTA_TEST_VERBOSE) console.log('\n  inbound', JSON.stringify(result), 'sender camera', JSON.stringify(captured));
  assert(result.samples > 20, `too few frame samples (${result.samples})`);
  assert(
    result.maxStill <= 100,
    `the citizen's inbound video stood still for ${result.maxStill} ms (longest span between rising samples ${result.maxGap} ms; ` +
      `longest sampling interval ${result.maxSampleInterval} ms; the sender's own camera: ${captured ? `${captured.maxStill} ms` : 'not watched (SILTA_TEST_VERBOSE=1 watches it)'})`,
  );
  return result;
}

/** Months around now (`YYYY-MM`), wide enough for any time zone. */
function monthRange() {
  const now = new Date();
  const month = (offset) => {
    const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
    return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
  };
  return { from: month(-1), to: month(1) };
}

/** Transactions and feedback counted for a point × agency. */
async function counted(server, point, agency) {
  const { from, to } = monthRange();
  const rows = await server.api('admin-1', 'GET', `/statistics?from=${from}&to=${to}`);
  const mine = rows.filter((row) => row.service_point === point && row.agency === agency);
  return {
    transactions: mine.reduce((sum, row) => sum + row.transactions, 0),
    sessions: mine.reduce((sum, row) => sum + row.sessions, 0),
    feedback: mine.reduce((sum, row) => sum + row.feedback_count, 0),
    interpreter: mine.reduce((sum, row) => sum + row.interpreter_sessions, 0),
  };
}

/** Opens sp-kemi and expert-vero-1 around the clock, so a slot exists at any hour. */
async function openAroundTheClock(server) {
  const allWeek = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, opens: '00:00', closes: '23:45' }));
  const points = await server.api('admin-1', 'GET', '/service-points?limit=200');
  const kemi = points.items.find((point) => point.id === 'sp-kemi');
  await server.api('admin-1', 'POST', '/service-points', { ...kemi, opening_hours: allWeek });
  const experts = await server.api('admin-1', 'GET', '/experts?agency=VERO&limit=200');
  const vero = experts.items.find((expert) => expert.id === 'expert-vero-1');
  await server.api('admin-1', 'POST', '/experts', { ...vero, working_hours: allWeek });
  const interpreters = await server.api('admin-1', 'GET', '/interpreters?limit=200');
  const swedish = interpreters.items.find((interpreter) => interpreter.id === 'interpreter-sv-1');
  await server.api('admin-1', 'POST', '/interpreters', { ...swedish, working_hours: allWeek });
}

/**
 * Books the first free slot of expert-vero-1 at sp-kemi within a week, in
 * Finnish with a Swedish interpreter: expert, kiosk and interpreter are
 * reserved together.
 */
async function bookAppointment(server) {
  const today = new Date();
  const day = (offset) => new Date(today.getTime() + offset * 86_400_000).toISOString().slice(0, 10);
  const slots = await server.api(
    ADVISOR,
    'GET',
    `/slots?agency=VERO&service=vero-tax-card&service_point=sp-kemi&language=fi&interpreter_language=sv&from=${day(0)}&to=${day(6)}`,
  );
  const slot = slots.find((candidate) => candidate.experts.includes('expert-vero-1') && new Date(candidate.starts_at) > today);
  assert(slot, 'a free slot for expert-vero-1 within a week');
  return server.api(ADVISOR, 'POST', '/appointments', {
    agency: 'VERO',
    service: 'vero-tax-card',
    service_point: 'sp-kemi',
    starts_at: slot.starts_at,
    language: 'fi',
    interpreter_language: 'sv',
    expert: 'expert-vero-1',
    contact: { email: 'citizen@example.invalid' },
  });
}

export const flows = [
  {
    name: 'walk-in',
    async run() {
      await withSystem(async (server, browser) => {
        const { kiosk, advisor, expert } = await walkIn(server, browser, { prefix: 'walk-in' });
        await assertMediaFlows(kiosk, 'the kiosk', ['expert', 'advisor']);
        await assertMediaFlows(expert, 'the expert', ['kiosk', 'advisor']);
        await assertMediaFlows(advisor, 'the advisor', ['kiosk', 'expert']);
        await capture(kiosk, 'walk-in-kiosk-call');
        await capture(expert, 'walk-in-expert-call');
        await capture(advisor, 'walk-in-advisor-call');
        // The quality indicator has graded the connection.
        await eventually(async () => (await kiosk.locator('#quality').getAttribute('data-grade')) === 'good', 'the kiosk quality indicator to say good');
        // A second video source: the citizen shows a document.
        await kiosk.click('#second-source');
        await expert.locator('.tile[data-source="second"][data-active="true"]').waitFor({ timeout: 15_000 });
        await capture(expert, 'walk-in-expert-document-camera');
        await kiosk.click('#second-source');
        await expert.locator('.tile[data-source="second"][data-active="false"]').waitFor({ timeout: 15_000 });
        // The expert shares a screen; the citizen sees it beside the camera.
        await expert.click('#screen');
        await kiosk.locator('.tile[data-role="expert"][data-source="second"][data-active="true"]').waitFor({ timeout: 15_000 });
        await capture(kiosk, 'walk-in-kiosk-screen-share');
        await expert.click('#screen');
        await kiosk.locator('.tile[data-role="expert"][data-source="second"][data-active="false"]').waitFor({ timeout: 15_000 });
      });
    },
  },
  {
    name: 'booked',
    async run() {
      await withSystem(async (server, browser) => {
        await openAroundTheClock(server);
        const appointment = await bookAppointment(server);
        assert(appointment.interpreter === 'interpreter-sv-1', `the interpreter reserved: ${appointment.interpreter}`);
        const kiosk = await browser.page('kiosk');
        const advisor = await browser.page('advisor');
        const expert = await browser.page('expert');
        const interpreter = await browser.page('interpreter');
        await openKiosk(kiosk, server.base, KIOSK, 'fi');
        await openStaff(advisor, server.base, 'advisor', ADVISOR);
        await openStaff(expert, server.base, 'expert', 'expert-vero-1');
        await openStaff(interpreter, server.base, 'interpreter', 'interpreter-sv-1');
        // Both see the booking.
        const row = advisor.locator(`tr[data-appointment="${appointment.id}"]`);
        await row.waitFor();
        await expert.locator(`li[data-appointment="${appointment.id}"]`).waitFor();
        await capture(advisor, 'booked-advisor-appointments');
        await capture(expert, 'booked-expert-bookings');
        // Check-in: the expert is told and offered the call.
        await row.locator('button').click();
        await advisor.locator('#session-panel').waitFor({ state: 'visible' });
        await expert.locator('#notices .offer').waitFor();
        const offer = expert.locator(`.offer[data-offer="${appointment.room}"]`);
        await offer.waitFor();
        await capture(expert, 'booked-expert-checked-in');
        await offer.locator('button[data-action="accept"]').click();
        await eventually(async () => (await kiosk.evaluate(() => document.body.dataset.phase)) === 'in_call', 'the kiosk to show the call');
        // The booked interpreter is invited by name and joins.
        const invitation = interpreter.locator(`.offer[data-offer="${appointment.room}"]`);
        await invitation.waitFor();
        await invitation.locator('button[data-action="accept"]').click();
        await assertMediaFlows(kiosk, 'the kiosk', ['expert', 'interpreter']);
        await assertMediaFlows(expert, 'the expert', ['kiosk', 'interpreter']);
        await assertMediaFlows(interpreter, 'the interpreter', ['kiosk', 'expert']);
        await capture(kiosk, 'booked-kiosk-call');
        const status = await server.api(ADVISOR, 'GET', `/appointments/${appointment.id}`);
        assert(status.status === 'checked_in', `appointment status ${status.status}`);
      });
    },
  },
  {
    name: 'hand-off',
    async run() {
      await withSystem(async (server, browser) => {
        const { kiosk, advisor, expert } = await walkIn(server, browser, { prefix: 'hand-off' });
        await assertMediaFlows(kiosk, 'the kiosk', ['expert', 'advisor']);
        const expertId = await idOf(kiosk, 'expert');
        // The advisor steps out; the citizen's video from the expert never stalls.
        await watchedGap(kiosk, expertId, expert, async () => {
          await advisor.click('#handoff');
          await advisor.locator('#session-panel').waitFor({ state: 'hidden' });
          await eventually(async () => !(await participantsByRole(kiosk)).advisor, 'the advisor to leave the kiosk room');
        });
        await assertMediaFlows(kiosk, 'the kiosk', ['expert']);
        await assertMediaFlows(expert, 'the expert', ['kiosk']);
        await capture(advisor, 'hand-off-advisor-stepped-out');
        // The citizen calls the advisor back.
        await kiosk.click('#call-advisor');
        const callback = advisor.locator('[data-callback]');
        await callback.waitFor();
        await capture(advisor, 'hand-off-advisor-called');
        await watchedGap(kiosk, expertId, expert, async () => {
          await callback.locator('button.primary').click();
          await advisor.locator('#session-panel').waitFor({ state: 'visible' });
        });
        await assertMediaFlows(advisor, 'the returning advisor', ['kiosk', 'expert']);
        await assertMediaFlows(kiosk, 'the kiosk', ['advisor']);
      });
    },
  },
  {
    name: 'interpreter',
    async run() {
      await withSystem(async (server, browser) => {
        const { kiosk, advisor, expert } = await walkIn(server, browser, { prefix: 'interpreter' });
        const interpreter = await browser.page('interpreter');
        await openStaff(interpreter, server.base, 'interpreter', 'interpreter-sv-1');
        await interpreter.click('#presence');
        await capture(interpreter, 'interpreter-idle');
        // The advisor hands off first: a kiosk, an expert and an interpreter.
        await advisor.click('#handoff');
        await eventually(async () => !(await participantsByRole(kiosk)).advisor, 'the advisor to leave');
        const expertId = await idOf(kiosk, 'expert');
        await assertMediaFlows(kiosk, 'the kiosk', ['expert']);
        // The expert invites an interpreter by language mid-call.
        await watchedGap(kiosk, expertId, expert, async () => {
          await expert.selectOption('#interpreter-language', 'sv');
          await expert.click('#interpreter-form button[type="submit"]');
          const offer = interpreter.locator('.offer[data-kind="interpretation"]');
          await offer.waitFor();
          await capture(interpreter, 'interpreter-invitation');
          await offer.locator('button[data-action="accept"]').click();
          await interpreter.locator('#call-panel').waitFor({ state: 'visible' });
          await eventually(async () => (await participantsByRole(kiosk)).interpreter, 'the interpreter in the kiosk room');
        });
        await assertMediaFlows(interpreter, 'the interpreter', ['kiosk', 'expert']);
        await assertMediaFlows(kiosk, 'the kiosk', ['expert', 'interpreter']);
        await assertMediaFlows(expert, 'the expert', ['kiosk', 'interpreter']);
        await kiosk.locator('.tile[data-role="interpreter"][data-source="camera"]').waitFor();
        await capture(kiosk, 'interpreter-kiosk-three-party');
        await capture(interpreter, 'interpreter-call');
        // The interpreter leaves; the call goes on without a stall.
        await watchedGap(kiosk, expertId, expert, async () => {
          await interpreter.click('#leave');
          await eventually(async () => !(await participantsByRole(kiosk)).interpreter, 'the interpreter to leave');
        });
        await assertMediaFlows(kiosk, 'the kiosk', ['expert']);
        assert((await kiosk.evaluate(() => document.body.dataset.phase)) === 'in_call', 'the call goes on');
        await endByExpert(expert, kiosk);
        await eventually(async () => (await counted(server, 'sp-kemi', 'VERO')).interpreter === 1, 'the interpreter session to be counted');
      });
    },
  },
  {
    name: 'transfer',
    async run() {
      await withSystem(async (server, browser) => {
        const { kiosk, advisor, expert } = await walkIn(server, browser, { prefix: 'transfer', language: 'fi' });
        const kela = await browser.page('expert-kela');
        await openStaff(kela, server.base, 'expert', 'expert-kela-1');
        await kela.click('#presence');
        await advisor.click('#handoff');
        await eventually(async () => !(await participantsByRole(kiosk)).advisor, 'the advisor to leave');
        // Vero brings in Kela, then leaves.
        await expert.selectOption('#transfer-agency', 'KELA');
        await expert.selectOption('#transfer-language', 'fi');
        await expert.click('#transfer-form button[type="submit"]');
        const offer = kela.locator('.offer[data-kind="transfer"]');
        await offer.waitFor();
        await capture(kela, 'transfer-kela-offer');
        await offer.locator('button[data-action="accept"]').click();
        await eventually(async () => ((await participantsByRole(kiosk)).expert ?? []).length === 2, 'both experts in the room');
        await assertMediaFlows(kela, 'the Kela expert', ['kiosk', 'expert']);
        await capture(expert, 'transfer-vero-before-leaving');
        await expert.locator('#leave').click();
        await expert.locator('#call-panel').waitFor({ state: 'hidden' });
        await eventually(async () => ((await participantsByRole(kiosk)).expert ?? []).length === 1, 'the first expert to leave');
        // The citizen was never dropped and is now served by Kela.
        const remaining = await participantsByRole(kiosk);
        const kelaInfo = await kiosk.evaluate((id) => window.siltaApp.session.participants.get(id), remaining.expert[0]);
        assert(kelaInfo.organisation === 'KELA', `the kiosk is served by ${kelaInfo.organisation}`);
        assert((await kiosk.evaluate(() => document.body.dataset.screen)) === 'session', 'the kiosk stays in the session');
        await assertMediaFlows(kiosk, 'the kiosk', ['expert']);
        await assertMediaFlows(kela, 'the Kela expert', ['kiosk']);
        await capture(kiosk, 'transfer-kiosk-kela');
        await endByExpert(kela, kiosk);
        await eventually(async () => (await counted(server, 'sp-kemi', 'KELA')).sessions === 1, 'the session to be counted for Kela');
      });
    },
  },
  {
    name: 'reconnect',
    async run() {
      await withSystem(async (server, browser) => {
        const cable = await CablePull.start(server.port);
        try {
          const origin = `http://127.0.0.1:${cable.port}`;
          const { kiosk, advisor, expert } = await walkIn(server, browser, { prefix: 'reconnect', kioskOrigin: origin });
          await assertMediaFlows(expert, 'the expert', ['kiosk']);
          const room = await kiosk.evaluate(() => window.siltaApp.session.room);
          const port = await mediaPort(kiosk);
          assert(port, 'the kiosk has a media port');
          // The kiosk's link goes down for 20 s: signaling and media.
          cable.cut();
          const udp = dropUdpPort(port);
          try {
            await kiosk.locator('#connection').waitFor({ state: 'visible' });
            await expert.locator('.tile[data-role="kiosk"][data-reconnecting="true"]').first().waitFor({ timeout: 20_000 });
            await advisor.locator('.tile[data-role="kiosk"][data-reconnecting="true"]').first().waitFor();
            await capture(kiosk, 'reconnect-kiosk-offline');
            await capture(expert, 'reconnect-expert-sees-reconnecting');
            // The link really is down: the expert gets no frames from the kiosk.
            const kioskId = await idOf(expert, 'kiosk');
            const framesFromKiosk = async () => (await mediaCounters(expert))?.participants[kioskId]?.framesDecoded ?? 0;
            const before = await framesFromKiosk();
            await sleep(3000);
            const during = await framesFromKiosk();
            assert(during - before <= 2, `frames still arrived from the cut-off kiosk (${during - before})`);
            await sleep(17_000);
          } finally {
            udp.restore();
            cable.restore();
          }
          // Back in the same call, media flowing both ways again.
          await kiosk.locator('#connection').waitFor({ state: 'hidden', timeout: 20_000 });
          await expert.locator('.tile[data-role="kiosk"][data-reconnecting="false"]').first().waitFor();
          const after = await kiosk.evaluate(() => window.siltaApp.session?.room);
          assert(after === room, `the kiosk came back to ${after}, not ${room}`);
          await assertMediaFlows(kiosk, 'the kiosk', ['expert']);
          await assertMediaFlows(expert, 'the expert', ['kiosk']);
          await capture(kiosk, 'reconnect-kiosk-back');
        } finally {
          cable.close();
        }
      });
    },
  },
  {
    name: 'close',
    async run() {
      await withSystem(async (server, browser) => {
        const { kiosk, advisor, expert } = await walkIn(server, browser, { prefix: 'close', language: 'sv' });
        await assertMediaFlows(kiosk, 'the kiosk', ['expert']);
        // The identity check travels as a document type only.
        await advisor.selectOption('#identity-document', 'passport');
        await advisor.click('#identity-submit');
        await advisor.locator('#identity-state').filter({ hasText: /./ }).waitFor();
        await advisor.click('#handoff');
        const before = await counted(server, 'sp-kemi', 'VERO');
        await endByExpert(expert, kiosk, 'resolved');
        // Feedback in the citizen's language (Swedish).
        assert((await kiosk.evaluate(() => document.documentElement.lang)) === 'sv', 'the kiosk speaks Swedish');
        const title = await kiosk.locator('#feedback-title').textContent();
        assert(title === 'Hur gick ärendet?', `feedback title: ${title}`);
        await capture(kiosk, 'close-kiosk-feedback');
        // By keyboard alone: Tab to the fifth face, Space, Tab on to the
        // comment and the send button; the focus is always visible.
        await kiosk.focus('#faces button[data-score="1"]');
        for (let step = 0; step < 4; step += 1) await kiosk.keyboard.press('Tab');
        const focused = await kiosk.evaluate(() => {
          const element = document.activeElement;
          return { score: element?.getAttribute('data-score'), outline: element ? getComputedStyle(element).outlineStyle : 'none' };
        });
        assert(focused.score === '5', `Tab reached face ${focused.score}`);
        assert(focused.outline !== 'none', 'the focused face shows a focus outline');
        await kiosk.keyboard.press('Space');
        await kiosk.keyboard.press('Tab');
        await kiosk.keyboard.type('Snabbt och vänligt.');
        await capture(kiosk, 'close-kiosk-feedback-chosen');
        await kiosk.keyboard.press('Tab');
        await kiosk.keyboard.press('Enter');
        await eventually(async () => (await screenOf(kiosk)) === 'thanks', 'the kiosk to thank');
        await capture(kiosk, 'close-kiosk-thanks');
        await eventually(async () => (await screenOf(kiosk)) === 'idle', 'the kiosk to be idle again', 15_000);
        // The next citizen starts from the kiosk's own language.
        await eventually(async () => (await kiosk.evaluate(() => document.documentElement.lang)) === 'fi', 'the kiosk back in Finnish');
        // The transaction and the feedback are counted.
        const after = await eventually(async () => {
          const now = await counted(server, 'sp-kemi', 'VERO');
          return now.transactions === before.transactions + 1 && now.feedback === before.feedback + 1 ? now : null;
        }, 'the transaction and the feedback in the statistics');
        assert(after.sessions >= 1, 'a session was recorded');
        // The admin's statistics page shows it.
        const admin = await browser.page('admin');
        await admin.goto(`${server.base}/admin/?as=admin-1&lang=fi`);
        await admin.locator('#statistics-table').first().waitFor({ state: 'attached', timeout: 20_000 });
        await showStatistics(admin);
        const cell = admin.locator('#statistics-table tr[data-service-point="sp-kemi"][data-agency="VERO"] [data-field="transactions"]');
        await cell.first().waitFor();
        assert(Number(await cell.first().textContent()) >= 1, 'the statistics page counts the transaction');
        await capture(admin, 'close-admin-statistics');
        // The audit log names roles and organisations, never people.
        const audit = await server.api('admin-1', 'GET', '/audit?limit=200');
        const joins = audit.items.filter((entry) => entry.action === 'session.join');
        assert(joins.some((entry) => entry.actor_role === 'expert' && entry.actor_org === 'VERO'), 'the expert join is audited');
      });
    },
  },
  {
    name: 'pages',
    async run() {
      await withSystem(async (server, browser) => {
        // Every page in every language, idle, for accessibility and screenshots.
        const page = await browser.page('visitor');
        for (const lang of ['fi', 'sv', 'en']) {
          await page.goto(`${server.base}/?lang=${lang}`);
          await page.locator('#apps section').first().waitFor();
          await capture(page, `pages-home-${lang}`);
          for (const [app, subject] of [['advisor', ADVISOR], ['expert', 'expert-vero-1'], ['interpreter', 'interpreter-sv-1']]) {
            await openStaff(page, server.base, app, subject, lang);
            await capture(page, `pages-${app}-${lang}`);
          }
          await page.goto(`${server.base}/advisor/?lang=${lang}`);
          await page.locator('#signin-subject').waitFor();
          await capture(page, `pages-signin-${lang}`);
        }
        const kiosk = await browser.page('kiosk');
        await kiosk.goto(`${server.base}/kiosk/`);
        await kiosk.locator('#screen-provision').waitFor({ state: 'visible' });
        await capture(kiosk, 'pages-kiosk-provision');
        await openKiosk(kiosk, server.base, KIOSK, 'en');
        for (const lang of ['Suomi', 'Svenska', 'English']) {
          await kiosk.click(`#language-buttons button:has-text("${lang}")`);
          await capture(kiosk, `pages-kiosk-idle-${lang}`);
        }
        // The kiosk is keyboard operable: Tab reaches the language buttons.
        await kiosk.keyboard.press('Tab');
        const focused = await kiosk.evaluate(() => document.activeElement?.tagName);
        assert(focused === 'SELECT' || focused === 'BUTTON', `keyboard focus went to ${focused}`);
        const admin = await browser.page('admin');
        await admin.goto(`${server.base}/admin/?as=admin-1`);
        await admin.locator('main').waitFor();
        await sleep(1000);
        await checkAdminSections(admin);
      });
    },
  },
];

/** Shows the admin app's statistics section. */
async function showStatistics(admin) {
  await admin.locator('nav a[href="#statistics"]').click();
  await admin.locator('#statistics-table').first().waitFor({ state: 'visible' });
}

/** Every admin section, checked by axe, with a screenshot. */
async function checkAdminSections(admin) {
  const sections = await admin.locator('nav a[href^="#"]').evaluateAll((links) => links.map((link) => link.getAttribute('href')));
  assert(sections.length >= 7, `the admin app has its sections (found ${sections.join(', ')})`);
  for (const href of sections) {
    await admin.locator(`nav a[href="${href}"]`).click();
    await sleep(500);
    await capture(admin, `pages-admin-${href.slice(1)}`);
  }
}
