// The seven flows of the brief, each in real Chromium windows through the
// real signal service, SFU and booking service (one `silta dev` per flow),
// plus every kiosk screen on portrait and landscape touch screens, and a
// call that outlives its media node (`silta dev` driving two `silta sfu`
// nodes on a private NATS), and calls through coturn: relayed over each of
// TURN/UDP, TURN/TCP and TURN/TLS on 443, and a kiosk whose network lets
// only TCP 443 out finding TURN/TLS by itself.

import { spawnSync } from 'node:child_process';
import path from 'node:path';
import {
  Browser,
  CablePull,
  Coturn,
  RELAY_PORTS,
  MediaCluster,
  AssertionError,
  Server,
  assert,
  assertJoinedInOneRound,
  assertMediaFlows,
  blackhole,
  capture,
  checkAccessibility,
  dropUdpPort,
  eventually,
  freeUdpPort,
  mediaCounters,
  bufferDelays,
  mediaPath,
  mediaPort,
  loopbackPaths,
  openKiosk,
  openStaff,
  participantsByRole,
  sdpSize,
  sleep,
  startFrameWatch,
} from './lib.mjs';

const KIOSK = 'kiosk-kemi-1';
const ADVISOR = 'advisor-kemi-1';

/**
 * Runs `body` with a fresh server and browser, and cleans up; then, if the
 * body passed, `afterStop` with the stopped server (its whole log written,
 * its telemetry flushed).
 * @param {{env?: Record<string, string>, keepLog?: boolean, browser?: {relayOnly?: 'udp' | 'tcp' | 'tls', trustSpki?: string}}} [options]
 *   further settings of the server, and of the browser
 * @param {((server: Server) => Promise<void>) | null} [afterStop]
 */
export async function withSystem(body, options = {}, afterStop = null) {
  const server = await Server.start(options);
  const browser = await Browser.launch(options.browser);
  let passed = false;
  try {
    await body(server, browser);
    const errors = browser.errors();
    assert(errors.length === 0, `uncaught page errors:\n${errors.join('\n')}`);
    passed = true;
  } finally {
    await browser.close();
    await server.stop();
  }
  if (passed && afterStop) await afterStop(server);
}

/** The kiosk's current screen. */
const screenOf = (kiosk) => kiosk.evaluate(() => document.body.dataset.screen);

/** The touch screens a kiosk is mounted on. */
const KIOSK_DISPLAYS = [
  ['portrait', { width: 1080, height: 1920 }],
  ['landscape', { width: 1920, height: 1080 }],
];

/**
 * Measures the kiosk as a citizen would see it: whether the page fits the
 * screen, where its content sits, the touch targets, the service point and
 * the status text, any empty status pill and the call's tile sizes.
 */
function measureKiosk(kiosk) {
  return kiosk.evaluate(() => {
    const visible = (element) => {
      if (!element) return false;
      const rect = element.getBoundingClientRect();
      const style = getComputedStyle(element);
      return rect.width > 0 && rect.height > 0 && style.visibility !== 'hidden' && style.display !== 'none' && !element.closest('[hidden]');
    };
    const area = (element) => {
      const rect = element.getBoundingClientRect();
      return rect.width * rect.height;
    };
    const screen = document.querySelector('.screen:not([hidden])');
    const main = document.querySelector('main').getBoundingClientRect();
    // The content's extent: the union of the screen's visible children.
    const children = [...(screen?.children ?? [])].filter(visible).map((child) => child.getBoundingClientRect());
    const top = Math.min(...children.map((rect) => rect.top));
    const bottom = Math.max(...children.map((rect) => rect.bottom));
    const targets = [...document.querySelectorAll('button, select, textarea, a[href], input')].filter(visible);
    const small = targets
      .map((element) => ({ element, rect: element.getBoundingClientRect() }))
      .filter(({ rect }) => rect.height < 48 || rect.width < 48)
      .map(({ element, rect }) => `${element.id || element.tagName} ${Math.round(rect.width)}×${Math.round(rect.height)}`);
    const pills = [...document.querySelectorAll('#quality, #connection, .quality, .badge, .queue-value, [role="status"]:not(.visually-hidden)')]
      .filter(visible)
      .filter((element) => (element.textContent ?? '').trim() === '')
      .map((element) => element.id || element.className);
    const status = screen?.querySelector('.kiosk-status');
    const heading = screen?.querySelector('h2');
    const tiles = [...document.querySelectorAll('.tile')].filter(visible);
    const tileArea = (selector) => Math.max(0, ...tiles.filter((tile) => tile.matches(selector)).map(area));
    return {
      screen: screen?.id,
      viewport: { width: innerWidth, height: innerHeight },
      scroll: { width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight },
      main: { top: main.top, height: main.height },
      content: { top, bottom },
      headingSize: heading ? parseFloat(getComputedStyle(heading).fontSize) : 0,
      servicePoint: visible(document.getElementById('service-point')) ? document.getElementById('service-point').textContent.trim() : '',
      status: visible(status) ? status.textContent.trim() : '',
      small,
      pills,
      tiles: {
        count: tiles.length,
        expert: tileArea('[data-role="expert"][data-source="camera"]'),
        advisor: tileArea('[data-role="advisor"][data-source="camera"]'),
        self: tileArea('.self'),
        largest: Math.max(0, ...tiles.map(area)),
      },
      reconnecting: visible(document.getElementById('kiosk-reconnecting')),
    };
  });
}

/**
 * Checks one kiosk screen on both touch screens and saves its screenshots
 * (`kiosk-<screen>-portrait.png`, `kiosk-<screen>-landscape.png`).
 * @param {import('playwright-core').Page} kiosk
 * @param {string} screen
 * @param {(layout: any, orientation: string) => void} [extra] further checks of the layout
 */
async function checkKioskScreen(kiosk, screen, extra) {
  for (const [orientation, viewport] of KIOSK_DISPLAYS) {
    await kiosk.setViewportSize(viewport);
    // Two frames: the layout has settled at the new size.
    await kiosk.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
    const layout = await measureKiosk(kiosk);
    const where = `kiosk ${screen} (${orientation})`;
    assert(layout.scroll.width <= viewport.width && layout.scroll.height <= viewport.height,
      `${where}: the page needs scrolling (${layout.scroll.width}×${layout.scroll.height})`);
    assert(layout.main.height >= 0.8 * viewport.height, `${where}: the main area is ${Math.round(layout.main.height)} px of ${viewport.height}`);
    const spread = layout.content.bottom - layout.content.top;
    assert(spread >= 0.45 * layout.main.height, `${where}: the content fills ${Math.round(spread)} px of ${Math.round(layout.main.height)}`);
    // Centred: the content reaches over the middle third of the main area.
    const third = layout.main.height / 3;
    assert(layout.content.top <= layout.main.top + third && layout.content.bottom >= layout.main.top + 2 * third,
      `${where}: the content (${Math.round(layout.content.top)}–${Math.round(layout.content.bottom)}) does not span the middle of the screen`);
    assert(layout.headingSize >= 40, `${where}: the heading is ${layout.headingSize} px`);
    assert(layout.small.length === 0, `${where}: touch targets under 48 px: ${layout.small.join(', ')}`);
    assert(layout.servicePoint.length > 0, `${where}: the service point's name is not shown`);
    assert(layout.status.length > 0, `${where}: no status text says what is happening`);
    assert(layout.pills.length === 0, `${where}: empty status elements: ${layout.pills.join(', ')}`);
    extra?.(layout, orientation);
    await capture(kiosk, `kiosk-${screen}-${orientation}`);
  }
}

/**
 * Asserts that a page reflows to a 320 px wide viewport (WCAG 1.4.10):
 * nothing scrolls sideways. The page's own viewport is restored afterwards.
 * @param {import('playwright-core').Page} page
 * @param {string} label
 */
async function assertReflows(page, label) {
  const before = page.viewportSize();
  await page.setViewportSize({ width: 320, height: 640 });
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
  const overflow = await page.evaluate(() => {
    const width = document.documentElement.scrollWidth;
    // The deepest elements that reach past the edge (diagnostics only).
    const culprits = [...document.querySelectorAll('body *')]
      .filter((element) => element.getBoundingClientRect().right > innerWidth + 1)
      .slice(-5)
      .map((element) => `${element.tagName.toLowerCase()}${element.id ? `#${element.id}` : ''}${element.className && typeof element.className === 'string' ? `.${element.className.split(' ').join('.')}` : ''} (right ${Math.round(element.getBoundingClientRect().right)})`);
    return { width, culprits };
  });
  assert(overflow.width <= 320, `${label} overflows a 320 px viewport: ${overflow.width} px wide (${overflow.culprits.join(', ')})`);
  if (before) await page.setViewportSize(before);
}

/** The site's icon is served: the linked SVG and /favicon.ico. */
async function assertFavicon(server, page) {
  const linked = await page.evaluate(() => document.querySelector('link[rel="icon"]')?.href ?? null);
  assert(linked, 'the page links an icon');
  for (const url of [linked, `${server.base}/favicon.ico`]) {
    const response = await fetch(url);
    const type = response.headers.get('content-type') ?? '';
    assert(response.ok && type.startsWith('image/'), `${url}: HTTP ${response.status} ${type}`);
  }
}

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
  await callExpert({ kiosk, advisor, expert: expertPage }, { prefix, agency, language });
  return { kiosk, advisor, expert: expertPage };
}

/**
 * The expert asks for an interpreter of a language; the interpreter's page
 * (open and available) accepts the offer and shows the call.
 * @param {import('playwright-core').Page} expert
 * @param {import('playwright-core').Page} interpreter
 * @param {string} language
 */
export async function acceptInterpretation(expert, interpreter, language) {
  await expert.selectOption('#interpreter-language', language);
  await expert.click('#interpreter-form button[type="submit"]');
  const offer = interpreter.locator('.offer[data-kind="interpretation"]');
  await offer.waitFor();
  await offer.locator('button[data-action="accept"]').click();
  await interpreter.locator('#call-panel').waitFor({ state: 'visible' });
}

/**
 * A walk-in call on open pages: the advisor opens a session at the kiosk and
 * asks for the agency in the language, the expert (made available if they
 * are not) accepts, and the kiosk shows the call.
 */
export async function callExpert({ kiosk, advisor, expert: expertPage }, { prefix, agency = 'VERO', language = 'sv' }) {
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
  if ((await expertPage.locator('#presence-state').getAttribute('data-status')) !== 'available') await expertPage.click('#presence');
  const offer = expertPage.locator('.offer[data-kind="call"]');
  await offer.waitFor();
  await capture(expertPage, `${prefix}-expert-offer`);
  await offer.locator('button[data-action="accept"]').click();
  await expertPage.locator('#call-panel').waitFor({ state: 'visible' });
  await eventually(async () => (await kiosk.evaluate(() => document.body.dataset.phase)) === 'in_call', 'the kiosk to show the call');
  // In a call the expert reads busy (and is offered nothing else).
  await eventually(async () => (await expertPage.locator('#presence-state').getAttribute('data-status')) === 'busy', 'the expert to read busy in the call');
  // The citizen sees the agency by its directory name, never its code.
  await eventually(async () => {
    const caption = (await kiosk.locator('.tile[data-role="expert"]').first().textContent()) ?? '';
    return caption.length > 0 && !caption.includes(agency) ? caption : null;
  }, `the kiosk to name the expert's agency, not ${agency}`);
}

/**
 * Waits up to `timeoutMs` for a page to mark some tile as the active
 * speaker (its own view included), watching every change of
 * `data-speaking` so a short burst of sound is not missed between two
 * looks. Resolves with the tile's role ('self' for one's own view) and the
 * text that describes it to assistive technology, or null.
 */
function speakerMarked(page, timeoutMs = 10_000) {
  return page.evaluate((timeoutMs) => new Promise((resolve) => {
    const describe = (tile) => ({
      role: tile.dataset.self === 'true' ? 'self' : tile.dataset.role,
      description: document.getElementById(tile.getAttribute('aria-describedby') ?? '')?.textContent ?? '',
    });
    const now = document.querySelector('.tile[data-speaking="true"]');
    if (now) return resolve(describe(now));
    const observer = new MutationObserver((records) => {
      const record = records.find((r) => r.target instanceof HTMLElement && r.target.dataset.speaking === 'true');
      if (!record) return;
      observer.disconnect();
      clearTimeout(timer);
      resolve(describe(record.target));
    });
    observer.observe(document.body, { subtree: true, attributes: true, attributeFilter: ['data-speaking'] });
    const timer = setTimeout(() => {
      observer.disconnect();
      resolve(null);
    }, timeoutMs);
  }), timeoutMs);
}

/** The expert ends the session; the kiosk asks for feedback. */
export async function endByExpert(expert, kiosk, outcome = 'resolved') {
  await expert.selectOption('#end-outcome', outcome);
  await expert.click('#end-form button[type="submit"]');
  await eventually(async () => (await screenOf(kiosk)) === 'feedback', 'the kiosk to ask for feedback');
  // After the call the expert is available again, as they chose.
  await eventually(async () => (await expert.locator('#presence-state').getAttribute('data-status')) === 'available', 'the expert to read available after the call');
}

/** The one participant with `role` in a page's room. */
export async function idOf(page, role) {
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
  // A stall of 100 ms is what a person notices; the page samples every
  // 20 ms, but on a starved machine its own sampling stalls too (seen: 160–280
  // ms between samples), and then it cannot tell 100 ms of frozen video from
  // its own pause. The bound is 100 ms, or the longest pause of the sampler
  // when that is longer.
  const resolvable = Math.max(100, result.maxSampleInterval);
  assert(
    result.maxStill <= resolvable,
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

/** A local date `days` from today in Finland, `YYYY-MM-DD`. */
function finnishDate(days) {
  const at = new Date(Date.now() + days * 86_400_000);
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Helsinki', year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}

/**
 * The notifications the booking service queued for an appointment, read
 * from its outbox table in the server's SQLite file.
 */
function outbox(server, appointment) {
  assert(/^[0-9a-f]+$/.test(appointment), `an appointment id: ${appointment}`);
  const result = spawnSync(
    'sqlite3',
    ['-readonly', '-json', path.join(server.dataDir, 'booking.db'),
      `SELECT kind, channel, subject, body, cancelled, sent_at FROM outbox WHERE appointment_id = '${appointment}' ORDER BY due_at, kind, channel`],
    { encoding: 'utf8' },
  );
  assert(result.status === 0, `sqlite3 outbox: ${result.stderr || result.error}`);
  return result.stdout.trim() ? JSON.parse(result.stdout) : [];
}

/** Outbox rows of a kind, by channel. */
const rowsOf = (rows, kind, filter = () => true) => rows.filter((row) => row.kind === kind && filter(row)).map((row) => row.channel).sort().join(',');

/**
 * Waits until a staff page shows `selector` *without reloading* (the page
 * was marked beforehand): the change arrived live, by
 * `appointments_changed`.
 */
async function seenLive(page, selector, what, state = 'visible') {
  try {
    await page.locator(selector).waitFor({ state, timeout: 10_000 });
  } catch (error) {
    throw new Error(`${what} did not happen live: ${error.message.split('\n')[0]}`);
  }
  assert(await page.evaluate(() => window.__notReloaded === true), `${what}: the page reloaded`);
}

/**
 * The advisor fills the booking form: agency, service, language, optional
 * interpreter, the first date, then searches.
 */
async function searchSlots(advisor, { from, interpreter = '' }) {
  await eventually(() => advisor.locator('#booking-agency option[value="VERO"]').count(), 'the directory in the booking form');
  await advisor.selectOption('#booking-agency', 'VERO');
  await advisor.selectOption('#booking-service', 'vero-tax-card');
  await advisor.selectOption('#booking-language', 'fi');
  await advisor.selectOption('#booking-interpreter', interpreter);
  await advisor.fill('#booking-from', from);
  await advisor.click('#booking-search');
  const first = advisor.locator('#booking-slot-list input[type="radio"]').first();
  await first.waitFor();
  return first;
}

/** The appointment the booking API holds at sp-kemi starting at `startsAt`. */
async function appointmentAt(server, startsAt) {
  const list = await server.api(ADVISOR, 'GET', '/appointments?limit=200');
  const found = list.items.find((item) => item.starts_at === startsAt && item.status === 'booked');
  assert(found, `a booked appointment at ${startsAt}`);
  return found;
}

export const flows = [
  {
    name: 'walk-in',
    async run() {
      await withSystem(async (server, browser) => {
        const { kiosk, advisor, expert } = await walkIn(server, browser, { prefix: 'walk-in' });
        // The quality indicator shows the server's grade of the kiosk's
        // connection (`connection_quality`) soon after the call starts.
        await eventually(async () => ['good', 'fair', 'poor'].includes(await kiosk.locator('#quality').getAttribute('data-grade')),
          'the kiosk quality indicator to show the server\'s grade', 10_000);
        // The fake devices all make sound: the server names a speaker
        // (`active_speaker`) and every app highlights that tile.
        for (const [page, who] of [[kiosk, 'the kiosk'], [expert, 'the expert']]) {
          const speaker = await speakerMarked(page);
          assert(speaker, `${who} marks no tile as the active speaker within 10 s`);
          assert(speaker.description.length > 0, `${who}: the speaking tile (${speaker.role}) is not described as speaking`);
        }
        await assertMediaFlows(kiosk, 'the kiosk', ['expert', 'advisor']);
        await assertMediaFlows(expert, 'the expert', ['kiosk', 'advisor']);
        await assertMediaFlows(advisor, 'the advisor', ['kiosk', 'expert']);
        await capture(kiosk, 'walk-in-kiosk-call');
        await capture(expert, 'walk-in-expert-call');
        await capture(advisor, 'walk-in-advisor-call');
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
        await row.locator('button[data-action="check-in"]').click();
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
    name: 'advisor-books',
    async run() {
      await withSystem(async (server, browser) => {
        await openAroundTheClock(server);
        const kiosk = await browser.page('kiosk');
        const advisor = await browser.page('advisor');
        const expert = await browser.page('expert');
        await openKiosk(kiosk, server.base, KIOSK, 'fi');
        await openStaff(advisor, server.base, 'advisor', ADVISOR);
        await openStaff(expert, server.base, 'expert', 'expert-vero-1');
        for (const page of [advisor, expert]) await page.evaluate(() => { window.__notReloaded = true; });

        // Names, not ids, and the directory's name of the agency everywhere.
        await eventually(async () => (await advisor.locator(`li[data-kiosk="${KIOSK}"] strong`).textContent()) === 'Kemi, kioski 1', 'the kiosk named from the directory');
        assert((await advisor.locator('#who').textContent()).includes('Kemi'), 'the advisor sees the service point by name');
        assert((await expert.locator('#who').textContent()).includes('Verohallinto'), 'the expert sees the agency by name');

        // The advisor searches free times two days ahead (so a reminder is due) with a Swedish interpreter.
        const first = await searchSlots(advisor, { from: finnishDate(2), interpreter: 'sv' });
        await capture(advisor, 'advisor-books-slots');
        await first.check();
        // A contact that is not an address: a clear message, nothing booked.
        await advisor.fill('#booking-email', 'not-an-address');
        await advisor.click('#booking-submit');
        await advisor.locator('#booking-email-error').filter({ hasText: 'sähköpostiosoite' }).waitFor();
        assert((await advisor.locator('#booking-email').getAttribute('aria-invalid')) === 'true', 'the email field is marked invalid');
        await capture(advisor, 'advisor-books-invalid-contact');
        await advisor.fill('#booking-email', 'citizen@example.invalid');
        await advisor.fill('#booking-phone', '+358 40 123 4567');
        const startsAt = await first.getAttribute('value');
        await advisor.click('#booking-submit');
        await advisor.locator('#booking-result').filter({ hasText: 'Varattu' }).waitFor();
        const booked = await appointmentAt(server, startsAt);
        assert(booked.expert === 'expert-vero-1', `the expert reserved: ${booked.expert}`);
        assert(booked.interpreter === 'interpreter-sv-1', `the interpreter reserved: ${booked.interpreter}`);
        const resultText = await advisor.locator('#booking-result').textContent();
        assert(resultText.includes('Verohallinto') && resultText.includes('Verokortti') && resultText.includes('Kemi, kioski 1'), `the confirmation on screen names things: ${resultText}`);
        const row = advisor.locator(`tr[data-appointment="${booked.id}"]`);
        await row.waitFor();
        const rowText = await row.textContent();
        assert(rowText.includes('Verokortti') && rowText.includes('Kemi, kioski 1') && !rowText.includes('kiosk-kemi-1'), `the advisor's row shows names: ${rowText}`);
        await capture(advisor, 'advisor-books-booked');

        // The expert sees it without reloading.
        await seenLive(expert, `li[data-appointment="${booked.id}"]`, 'the new booking on the expert screen');
        const expertRow = expert.locator(`li[data-appointment="${booked.id}"]`);
        const expertText = await expertRow.textContent();
        assert(expertText.includes('Verokortti') && expertText.includes('Kemi') && !expertText.includes('sp-kemi'), `the expert's booking shows names: ${expertText}`);
        await capture(expert, 'advisor-books-expert-sees-booking');

        // The confirmation went out on both channels; the reminder waits for its day.
        await eventually(() => rowsOf(outbox(server, booked.id), 'confirmation', (r) => r.sent_at !== null) === 'email,sms', 'the confirmation by email and SMS to be delivered');
        let notifications = outbox(server, booked.id);
        const confirmation = notifications.find((r) => r.kind === 'confirmation' && r.channel === 'email');
        assert(confirmation.subject === 'Etäpalveluaika vahvistettu: Verohallinto', `the confirmation's subject: ${confirmation.subject}`);
        assert(confirmation.body.includes('Verokortti') && confirmation.body.includes('Valtakatu 26'), `the confirmation's text: ${confirmation.body}`);
        assert(rowsOf(notifications, 'reminder', (r) => r.sent_at === null && r.cancelled === 0) === 'email,sms', `a pending reminder on both channels: ${JSON.stringify(notifications)}`);

        // The expert moves it to a later time from their screen.
        await expertRow.locator('[data-action="reschedule"]').click();
        await expert.locator('#booking-title').filter({ hasText: 'Siirrä varaus' }).waitFor();
        await expert.fill('#booking-from', finnishDate(3));
        await expert.click('#booking-search');
        const later = expert.locator('#booking-slot-list input[type="radio"]').first();
        await later.waitFor();
        await capture(expert, 'advisor-books-expert-reschedules');
        const newStart = await later.getAttribute('value');
        assert(newStart !== startsAt, 'another time is offered');
        await later.check();
        await expert.click('#booking-submit');
        await expert.locator('#booking-result').filter({ hasText: 'Siirretty' }).waitFor();
        const moved = await server.api(ADVISOR, 'GET', `/appointments/${booked.id}`);
        assert(moved.starts_at === newStart && moved.status === 'booked', `moved to ${moved.starts_at}`);
        await capture(expert, 'advisor-books-expert-rescheduled');
        // The advisor's list follows without a reload.
        const movedTime = await expert.evaluate(
          (value) => new Intl.DateTimeFormat('fi-FI', { timeZone: 'Europe/Helsinki', weekday: 'short', day: 'numeric', month: 'numeric', hour: '2-digit', minute: '2-digit' }).format(new Date(value)),
          newStart,
        );
        await seenLive(advisor, `tr[data-appointment="${booked.id}"]:has-text("${movedTime}")`, 'the moved booking on the advisor screen');
        notifications = outbox(server, booked.id);
        assert(rowsOf(notifications, 'confirmation') === 'email,email,sms,sms', `a new confirmation for the new time: ${rowsOf(notifications, 'confirmation')}`);
        assert(rowsOf(notifications, 'reminder', (r) => r.cancelled === 1) === 'email,sms', 'the old reminders are withdrawn');
        assert(rowsOf(notifications, 'reminder', (r) => r.cancelled === 0) === 'email,sms', 'new reminders wait');

        // The advisor cancels it (asked once more in the row).
        await advisor.locator(`tr[data-appointment="${booked.id}"] [data-action="cancel"]`).click();
        const confirmYes = advisor.locator(`tr[data-appointment="${booked.id}"] [data-action="confirm-cancel"]`);
        await confirmYes.waitFor();
        await capture(advisor, 'advisor-books-cancel-confirm');
        await confirmYes.click();
        await advisor.locator(`tr[data-appointment="${booked.id}"]`).waitFor({ state: 'detached' });
        assert((await server.api(ADVISOR, 'GET', `/appointments/${booked.id}`)).status === 'cancelled', 'the appointment is cancelled');
        await capture(advisor, 'advisor-books-cancelled');
        await seenLive(expert, `li[data-appointment="${booked.id}"]`, 'the cancellation on the expert screen', 'detached');
        // The cancellation notice goes out on both channels; then nothing
        // of the citizen's contact details is kept (the reminders with them).
        notifications = outbox(server, booked.id);
        assert(rowsOf(notifications, 'reminder') === '', `no reminder is left: ${JSON.stringify(notifications)}`);
        assert(['email,sms', ''].includes(rowsOf(notifications, 'cancellation')), `a cancellation notice on both channels: ${rowsOf(notifications, 'cancellation')}`);
        await eventually(() => outbox(server, booked.id).length === 0, 'the delivered cancellation notices to be forgotten');

        // A second booking, for now, without an interpreter or contact; the advisor checks the citizen in.
        const now = await searchSlots(advisor, { from: finnishDate(0) });
        const soon = await now.getAttribute('value');
        await now.check();
        await advisor.click('#booking-submit');
        await advisor.locator('#booking-result').filter({ hasText: 'Varattu' }).waitFor();
        const second = await appointmentAt(server, soon);
        assert(second.expert === 'expert-vero-1', `the expert reserved: ${second.expert}`);
        await seenLive(expert, `li[data-appointment="${second.id}"]`, 'the second booking on the expert screen');
        await advisor.locator(`tr[data-appointment="${second.id}"] [data-action="check-in"]`).click();
        await advisor.locator('#session-panel').waitFor({ state: 'visible' });
        await expert.locator('#notices .offer').waitFor();
        const offer = expert.locator(`.offer[data-offer="${second.room}"]`);
        await offer.waitFor();
        const noticeText = await expert.locator('#notices').textContent();
        assert(noticeText.includes('Kemi') && !noticeText.includes('sp-kemi'), `the check-in notice names the point: ${noticeText}`);
        const offerText = await offer.textContent();
        assert(offerText.includes('Kemi') && !offerText.includes('sp-kemi'), `the offer names the point: ${offerText}`);
        assert(offerText.includes('Palvelu: Verokortti'), `the offer names the service: ${offerText}`);
        assert(offerText.includes('kieli suomi'), `the offer names the booking's language: ${offerText}`);
        await capture(expert, 'advisor-books-expert-offer');
        await offer.locator('button[data-action="accept"]').click();
        await eventually(async () => (await kiosk.evaluate(() => document.body.dataset.phase)) === 'in_call', 'the kiosk to show the call');
        await assertMediaFlows(kiosk, 'the kiosk', ['expert']);
        await assertMediaFlows(expert, 'the expert', ['kiosk']);
        await capture(expert, 'advisor-books-expert-call');
        const callState = await expert.locator('#call-state').textContent();
        assert(callState.includes('Kemi') && !callState.includes('sp-kemi'), `the expert's call names the point: ${callState}`);
        assert((await server.api(ADVISOR, 'GET', `/appointments/${second.id}`)).status === 'checked_in', 'the appointment is checked in');

        // The expert books too, for their own agency at a point they pick.
        await expert.selectOption('#booking-point', 'sp-kemi');
        await expert.selectOption('#booking-service', 'vero-tax-card');
        await expert.selectOption('#booking-language', 'sv');
        await expert.fill('#booking-from', finnishDate(4));
        await expert.click('#booking-search');
        const expertSlot = expert.locator('#booking-slot-list input[type="radio"]').first();
        await expertSlot.waitFor();
        const expertStart = await expertSlot.getAttribute('value');
        await expertSlot.check();
        await expert.fill('#booking-phone', '+358401234567');
        await expert.click('#booking-submit');
        await eventually(async () => (await expert.locator('#booking-result').textContent()) || (await expert.locator('#booking-error').textContent()), 'the expert booking to be answered');
        const expertResult = await expert.locator('#booking-result').textContent();
        assert(expertResult.includes('Varattu'), `the expert books for their agency: ${await expert.locator('#booking-error').textContent()}`);
        const mine = await appointmentAt(server, expertStart);
        assert(mine.expert === 'expert-vero-1', 'the expert booked with themselves');
        await capture(expert, 'advisor-books-expert-booked');
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
        // The citizen is showing a paper when Kela joins: Kela's first
        // answer carries both cameras, the paper follows.
        await kiosk.click('#second-source');
        await expert.locator('.tile[data-source="second"][data-active="true"]').waitFor({ timeout: 15_000 });
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
        await kela.locator('.tile[data-role="kiosk"][data-source="second"][data-active="true"]').waitFor({ timeout: 15_000 });
        await kiosk.click('#second-source');
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
    name: 'media-failover',
    async run() {
      // Two `silta sfu` nodes on a private NATS; `silta dev` places the call on one.
      const cluster = await MediaCluster.start(['sfu-a', 'sfu-b']);
      /** @type {Server | null} */
      let system = null;
      try {
        await withSystem(async (server, browser) => {
          system = server;
          const { kiosk, advisor, expert } = await walkIn(server, browser, { prefix: 'failover' });
          const people = [
            { page: kiosk, who: 'the kiosk', others: ['advisor', 'expert'], ids: [] },
            { page: advisor, who: 'the advisor', others: ['kiosk', 'expert'], ids: [] },
            { page: expert, who: 'the expert', others: ['kiosk', 'advisor'], ids: [] },
          ];
          for (const person of people) {
            await assertMediaFlows(person.page, person.who, person.others);
            const byRole = await participantsByRole(person.page);
            person.ids = person.others.flatMap((role) => byRole[role] ?? []);
          }
          const holder = cluster.nodeAt(await mediaPort(kiosk, 'remote'));
          assert(holder, 'the call runs on one of the cluster\'s nodes');
          const spare = cluster.nodes.find((node) => node !== holder);
          for (const { page, who } of people) {
            assert((await mediaPort(page, 'remote')) === holder.port, `${who} is on ${holder.name} with the others`);
            await page.evaluate(() => { window.__mediaBeforeFailover = window.siltaApp.session.media; });
          }
          // The citizen is showing a paper when the node dies.
          await kiosk.click('#second-source');
          await expert.locator('.tile[data-source="second"][data-active="true"]').waitFor({ timeout: 15_000 });
          const roomBefore = await participantsByRole(advisor);
          // Everything the kiosk shows from here on, to prove it never left the call.
          await kiosk.evaluate(() => {
            const seen = [];
            window.__kioskStates = seen;
            const note = () => seen.push(`${document.body.dataset.screen}/${document.body.dataset.phase}`);
            new MutationObserver(note).observe(document.body, { attributes: true, attributeFilter: ['data-screen', 'data-phase'] });
          });

          const killed = Date.now();
          cluster.kill(holder.name);
          // Each app builds a new PeerConnection on the other node; the clock
          // stops when all three decode video and receive audio from both
          // others on it (the three watched at once).
          const took = await Promise.all(people.map(async ({ page, who, ids }) => {
            await eventually(async () => {
              const moved = await page.evaluate(() => window.siltaApp.session.media !== window.__mediaBeforeFailover);
              const counters = moved ? await mediaCounters(page) : null;
              return counters && ids.every((id) => (counters.participants[id]?.framesDecoded ?? 0) > 0 && (counters.participants[id]?.audioPackets ?? 0) > 0);
            }, `${who} to decode video and receive audio from the others again after ${holder.name} died`, 10_000);
            return Date.now() - killed;
          }));
          const restored = Math.max(...took);
          process.stdout.write(`[media again on ${spare.name} ${restored} ms after kill -9 of ${holder.name}] `);
          for (const { page, who, others } of people) await assertMediaFlows(page, who, others);
          for (const { page, who } of people) {
            assert((await mediaPort(page, 'remote')) === spare.port, `${who}'s media runs on ${spare.name} now`);
          }
          // The paper is still shown: the kiosk offered its document camera
          // to the new node, and the expert decodes it from there.
          await eventually(
            () => expert.evaluate(async () => {
              const video = /** @type {HTMLVideoElement | null} */ (document.querySelector('.tile[data-source="second"] video'));
              const track = /** @type {MediaStream | null} */ (video?.srcObject ?? null)?.getVideoTracks()[0];
              const fromNewNode = window.siltaApp.session.media.pc.getReceivers().some((receiver) => receiver.track === track);
              if (!video || !track || !fromNewNode) return false;
              const before = video.getVideoPlaybackQuality().totalVideoFrames;
              await new Promise((resolve) => setTimeout(resolve, 500));
              return video.getVideoPlaybackQuality().totalVideoFrames > before;
            }),
            `the expert to see the kiosk's document camera again from ${spare.name}`,
            15_000,
          );
          // The kiosk never left the call: same room, same participants, and
          // no screen but the call's.
          const states = await kiosk.evaluate(() => window.__kioskStates);
          assert(states.every((state) => state === 'session/in_call'), `the kiosk left the call for: ${states.join(', ')}`);
          assert((await kiosk.evaluate(() => document.body.dataset.phase)) === 'in_call', 'the kiosk is still in the call');
          const roomAfter = await participantsByRole(advisor);
          assert(JSON.stringify(roomAfter) === JSON.stringify(roomBefore), `the room changed: ${JSON.stringify(roomBefore)} → ${JSON.stringify(roomAfter)}`);
          // The call's live text moved with the media: typed at the expert, read at the kiosk.
          const expertId = await idOf(kiosk, 'expert');
          await expert.locator('.live-text-input').fill('Jatketaan toisella palvelimella');
          await expert.locator('.live-text-input').press('Enter');
          await eventually(
            () => kiosk.evaluate((id) => [...document.querySelectorAll(`.live-text-log [data-from="${id}"]`)].some((line) => line.textContent?.includes('Jatketaan toisella palvelimella')), expertId),
            'the expert\'s text at the kiosk on the new node',
          );
          await capture(kiosk, 'failover-kiosk-after');
          await endByExpert(expert, kiosk);
        }, { env: { ...cluster.env, SILTA_LOG__FILTER: 'info' } });
      } catch (error) {
        // What the processes said, to tell a slow node from a lost message.
        const tail = (text, lines) => text.split('\n').slice(-lines).join('\n    ');
        const logs = [
          `silta dev:\n    ${tail(/** @type {Server | null} */ (system)?.log.text ?? '', 60)}`,
          ...cluster.nodes.map((node) => `${node.name}:\n    ${tail(node.log.text, 15)}`),
        ];
        if (error instanceof Error) error.message += `\n  logs:\n  ${logs.join('\n  ')}`;
        throw error;
      } finally {
        await cluster.stop();
      }
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
    // The kiosk's link goes silent — signaling TCP and media UDP dropped,
    // no socket closed — for 5, 20 and 28 s. Each time the citizen sees the
    // reconnecting screen within seconds, and comes back into the same call
    // with media both ways, the others doing nothing.
    name: 'reconnect-silent',
    timeoutMs: 300_000,
    async run() {
      await withSystem(async (server, browser) => {
        // The kiosk reaches the server through its own port (a plain TCP
        // relay that never closes anything), so its traffic can be dropped
        // alone.
        const relay = await CablePull.start(server.port);
        try {
          const origin = `http://127.0.0.1:${relay.port}`;
          const { kiosk, expert } = await walkIn(server, browser, { prefix: 'reconnect-silent', kioskOrigin: origin });
          await assertMediaFlows(expert, 'the expert', ['kiosk']);
          const room = await kiosk.evaluate(() => window.siltaApp.session.room);
          for (const seconds of [5, 20, 28]) {
            const port = await mediaPort(kiosk);
            assert(port, 'the kiosk has a media port');
            const cut = blackhole({ udp: [port], tcp: [relay.port] });
            const started = Date.now();
            try {
              // The citizen is told within a few seconds, in the kiosk's language.
              await kiosk.locator('#kiosk-reconnecting').waitFor({ state: 'visible', timeout: 10_000 });
              const noticed = Date.now() - started;
              assert(noticed < 9000, `the kiosk noticed the dead link after ${noticed} ms`);
              const text = (await kiosk.locator('#kiosk-reconnecting').textContent()) ?? '';
              assert(/återansl|förbindelse|anslutning/i.test(text), `the reconnecting screen is in Swedish: ${text.trim().slice(0, 80)}`);
              if (seconds === 20) {
                await expert.locator('.tile[data-role="kiosk"][data-reconnecting="true"]').first().waitFor({ timeout: 15_000 });
                await capture(kiosk, 'reconnect-silent-kiosk-offline');
                // The expert writes while the kiosk's link is dead.
                await expert.locator('.live-text-input').fill('Odotan, olen yhä täällä');
              }
              await sleep(Math.max(0, seconds * 1000 - (Date.now() - started)));
            } finally {
              cut.restore();
            }
            // Back in the same call with media both ways.
            await kiosk.locator('#kiosk-reconnecting').waitFor({ state: 'hidden', timeout: 20_000 });
            const after = await kiosk.evaluate(() => window.siltaApp.session?.room);
            assert(after === room, `after ${seconds} s the kiosk came back to ${after}, not ${room}`);
            assert((await kiosk.evaluate(() => document.body.dataset.phase)) === 'in_call', `after ${seconds} s the kiosk is in the call`);
            await expert.locator('.tile[data-role="kiosk"][data-reconnecting="false"]').first().waitFor({ timeout: 20_000 });
            await assertMediaFlows(kiosk, `the kiosk after a ${seconds} s outage`, ['expert']);
            await assertMediaFlows(expert, `the expert after the kiosk's ${seconds} s outage`, ['kiosk']);
            if (seconds === 20) {
              // What the expert wrote during the outage reaches the kiosk once it is back, and the line finishes.
              const expertId = await idOf(kiosk, 'expert');
              const shown = () => kiosk.evaluate((id) => document.querySelector(`.live-text [data-from="${id}"] .live-text-words`)?.textContent ?? null, expertId);
              await eventually(async () => (await shown()) === 'Odotan, olen yhä täällä', 'the text written during the outage at the kiosk', 20_000);
              await expert.locator('.live-text-input').press('Enter');
              await eventually(
                () => kiosk.evaluate((id) => document.querySelector(`.live-text-log [data-from="${id}"] .live-text-words`)?.textContent ?? null, expertId),
                'the finished line in the kiosk log',
              );
            }
            const size = await sdpSize(kiosk);
            console.log(`\n  silent outage of ${seconds} s: back in the same call after ${((Date.now() - started) / 1000).toFixed(1)} s; kiosk SDP local ${size.local.bytes} B / ${size.local.mlines} m-lines`);
          }
          await capture(kiosk, 'reconnect-silent-kiosk-back');
        } finally {
          relay.close();
        }
      });
    },
  },
  {
    // One long call as it really goes: hand-off, return, an interpreter in
    // and out, a second hand-off, a transfer and an interpreter again, with
    // media checked on every side after every step and the session
    // descriptions staying bounded (the media node recycles m-lines).
    name: 'long-call',
    timeoutMs: 360_000,
    async run() {
      await withSystem(async (server, browser) => {
        const { kiosk, advisor, expert } = await walkIn(server, browser, { prefix: 'long-call' });
        const interpreter = await browser.page('interpreter');
        await openStaff(interpreter, server.base, 'interpreter', 'interpreter-sv-1');
        await interpreter.click('#presence');
        const kela = await browser.page('expert-kela');
        await openStaff(kela, server.base, 'expert', 'expert-kela-1');
        await kela.click('#presence');
        const sizes = [];
        const step = async (name, checks) => {
          for (const [page, who, roles] of checks) await assertMediaFlows(page, `${who} after ${name}`, roles);
          const size = await sdpSize(kiosk);
          // The kiosk offers and answers only the codecs the call uses.
          assert(size.local.codecs.join() === 'VP8,opus,rtx', `the kiosk's codecs after ${name}: ${size.local.codecs.join(', ')}`);
          sizes.push({ step: name, ...size });
          console.log(`\n  ${name}: kiosk SDP local ${size.local.bytes} B / ${size.local.mlines} m-lines, remote ${size.remote.bytes} B / ${size.remote.mlines} m-lines`);
          // The kiosk shows each person's video as it comes, not held back.
          // When a stream's RTP time drifted from the node's sender reports
          // (a recycled line resumed one frame on; a frame's step at every
          // layer switch) the kiosk held videos 0.9-1.8 s from the
          // interpreter's join on; now at most 70-130 ms here, which is the
          // audio's buffer delay (printed too): Chromium keeps each
          // person's video in sync with their voice.
          const delays = await bufferDelays(kiosk);
          console.log(
            `  ${name}: the kiosk's buffer delay per video frame ${JSON.stringify(delays.video)} ms, per audio sample ${JSON.stringify(delays.audio)} ms`,
          );
          for (const [participant, delay] of Object.entries(delays.video)) {
            assert(delay < 500, `the kiosk holds ${participant}'s video ${delay} ms per frame after ${name}`);
          }
        };
        const handOff = async () => {
          await advisor.click('#handoff');
          await eventually(async () => !(await participantsByRole(kiosk)).advisor, 'the advisor to leave');
        };
        const inviteInterpreter = async (host) => {
          await acceptInterpretation(host, interpreter, 'sv');
          await eventually(async () => (await participantsByRole(kiosk)).interpreter, 'the interpreter in the kiosk room');
        };
        const interpreterLeaves = async () => {
          await interpreter.click('#leave');
          await eventually(async () => !(await participantsByRole(kiosk)).interpreter, 'the interpreter to leave');
          await interpreter.locator('#call-panel').waitFor({ state: 'hidden' });
        };
        await step('the call starts', [[kiosk, 'the kiosk', ['expert', 'advisor']], [expert, 'the expert', ['kiosk', 'advisor']]]);

        await handOff();
        await step('a hand-off', [[kiosk, 'the kiosk', ['expert']], [expert, 'the expert', ['kiosk']]]);

        await kiosk.click('#call-advisor');
        const callback = advisor.locator('[data-callback]');
        await callback.waitFor();
        await callback.locator('button.primary').click();
        await advisor.locator('#session-panel').waitFor({ state: 'visible' });
        await step('the advisor returns', [
          [kiosk, 'the kiosk', ['expert', 'advisor']],
          [advisor, 'the advisor', ['kiosk', 'expert']],
          [expert, 'the expert', ['kiosk', 'advisor']],
        ]);
        await assertJoinedInOneRound(advisor, 'the returning advisor');

        await inviteInterpreter(expert);
        await step('an interpreter joins', [
          [kiosk, 'the kiosk', ['expert', 'advisor', 'interpreter']],
          [expert, 'the expert', ['kiosk', 'advisor', 'interpreter']],
          [interpreter, 'the interpreter', ['kiosk', 'expert', 'advisor']],
          [advisor, 'the advisor', ['kiosk', 'expert', 'interpreter']],
        ]);
        await assertJoinedInOneRound(interpreter, 'the interpreter');

        await interpreterLeaves();
        await step('the interpreter leaves', [[kiosk, 'the kiosk', ['expert', 'advisor']], [expert, 'the expert', ['kiosk', 'advisor']]]);

        await handOff();
        await step('a second hand-off', [[kiosk, 'the kiosk', ['expert']], [expert, 'the expert', ['kiosk']]]);

        await expert.selectOption('#transfer-agency', 'KELA');
        await expert.selectOption('#transfer-language', 'fi');
        await expert.click('#transfer-form button[type="submit"]');
        const offer = kela.locator('.offer[data-kind="transfer"]');
        await offer.waitFor();
        await offer.locator('button[data-action="accept"]').click();
        await eventually(async () => ((await participantsByRole(kiosk)).expert ?? []).length === 2, 'both experts in the room');
        await expert.locator('#leave').click();
        await expert.locator('#call-panel').waitFor({ state: 'hidden' });
        await eventually(async () => ((await participantsByRole(kiosk)).expert ?? []).length === 1, 'the first expert to leave');
        await step('a transfer to Kela', [[kiosk, 'the kiosk', ['expert']], [kela, 'the Kela expert', ['kiosk']]]);

        await inviteInterpreter(kela);
        await step('an interpreter joins again', [
          [kiosk, 'the kiosk', ['expert', 'interpreter']],
          [kela, 'the Kela expert', ['kiosk', 'interpreter']],
          [interpreter, 'the interpreter', ['kiosk', 'expert']],
        ]);
        await kiosk.locator('.tile[data-role="interpreter"][data-source="camera"]').waitFor();
        await capture(kiosk, 'long-call-kiosk-end');

        // At most three others were ever in the call with the kiosk at once
        // (advisor, expert, interpreter): 2 own m-lines (no document camera
        // here: a second source gets its line when first shown), 2 for each
        // of them, and the call channel's.
        const most = Math.max(...sizes.map((size) => size.remote.mlines));
        assert(most <= 9, `the kiosk's session description grew to ${most} m-lines: ${JSON.stringify(sizes)}`);
        // The protocol's SDP limit (128 KiB) is sized for the largest room,
        // 18 m-lines: the measured bytes per m-line must leave it a margin
        // of two.
        const perMline = Math.max(...sizes.map((size) => Math.max(size.local.bytes / size.local.mlines, size.remote.bytes / size.remote.mlines)));
        console.log(`\n  largest: ${Math.round(perMline)} B per m-line, ${Math.round((perMline * 18) / 1024)} KiB for the largest room (18 m-lines)`);
        assert(perMline * 18 * 2 <= 128 * 1024, `${Math.round(perMline)} B per m-line leaves the 128 KiB SDP limit no margin for 18 m-lines`);
        await endByExpert(kela, kiosk);
      });
    },
  },
  {
    name: 'kiosk-screens',
    async run() {
      await withSystem(async (server, browser) => {
        // The kiosk goes through a proxy, so its signaling can be cut.
        const cable = await CablePull.start(server.port);
        try {
          const origin = `http://127.0.0.1:${cable.port}`;
          const kiosk = await browser.page('kiosk');
          const advisor = await browser.page('advisor');
          const expert = await browser.page('expert');
          await openKiosk(kiosk, origin, KIOSK, 'en');
          await openStaff(advisor, server.base, 'advisor', ADVISOR, 'en');
          await openStaff(expert, server.base, 'expert', 'expert-vero-1', 'en');
          await assertFavicon(server, kiosk);
          await eventually(async () => ((await kiosk.locator('#service-point').textContent()) ?? '').includes('Kemi'), 'the service point name');

          // Idle: a welcome, the languages, how it works.
          await checkKioskScreen(kiosk, 'idle', (layout, orientation) => {
            assert(layout.screen === 'screen-idle', `idle: showing ${layout.screen}`);
            assert(layout.servicePoint === 'Kemi service point', `idle (${orientation}): service point "${layout.servicePoint}"`);
          });

          // Session opened: the advisor is on the screen, large.
          const start = advisor.locator(`li[data-kiosk="${KIOSK}"] button`);
          await start.waitFor();
          await start.click();
          await eventually(async () => (await kiosk.evaluate(() => document.body.dataset.phase)) === 'check_in', 'the kiosk to show the opened session');
          await assertMediaFlows(kiosk, 'the kiosk', ['advisor']);
          const advisorLarge = (layout, orientation) => {
            assert(layout.tiles.advisor > 0 && layout.tiles.advisor === layout.tiles.largest, `${orientation}: the advisor's tile is not the large one`);
            assert(layout.tiles.advisor >= 0.2 * layout.viewport.width * layout.viewport.height, `${orientation}: the advisor's tile is small (${layout.tiles.advisor} px²)`);
          };
          await checkKioskScreen(kiosk, 'session-opened', advisorLarge);

          // Waiting in the queue: place and estimated wait, the advisor still large.
          await eventually(() => advisor.locator('#request-agency option[value="VERO"]').count(), 'the agencies to load');
          await advisor.selectOption('#request-agency', 'VERO');
          await advisor.selectOption('#request-language', 'sv');
          await advisor.click('#request-submit');
          await kiosk.locator('#queue').waitFor({ state: 'visible' });
          await eventually(async () => (await kiosk.evaluate(() => document.body.dataset.phase)) === 'waiting', 'the kiosk to show the queue');
          await checkKioskScreen(kiosk, 'waiting', advisorLarge);

          // The call: the expert large, the citizen small.
          await expert.click('#presence');
          const offer = expert.locator('.offer[data-kind="call"]');
          await offer.waitFor();
          await offer.locator('button[data-action="accept"]').click();
          await eventually(async () => (await kiosk.evaluate(() => document.body.dataset.phase)) === 'in_call', 'the kiosk to show the call');
          await assertMediaFlows(kiosk, 'the kiosk', ['expert', 'advisor']);
          const expertLarge = (layout, orientation) => {
            assert(layout.tiles.expert >= 0.15 * layout.viewport.width * layout.viewport.height, `${orientation}: the expert's tile is small (${layout.tiles.expert} px²)`);
            assert(layout.tiles.self > 0 && layout.tiles.self * 3 <= layout.tiles.expert, `${orientation}: the citizen's own view (${layout.tiles.self} px²) is not small beside the expert's (${layout.tiles.expert} px²)`);
          };
          await checkKioskScreen(kiosk, 'call', expertLarge);
          // The staff pages reflow on a narrow screen in a call too.
          await assertReflows(advisor, 'the advisor in a call');
          await assertReflows(expert, 'the expert in a call');

          // Lost connection: the kiosk's signaling is cut; a notice covers the
          // session until it is back.
          cable.cut();
          try {
            await kiosk.locator('#kiosk-reconnecting').waitFor({ state: 'visible', timeout: 15_000 });
            for (const [orientation, viewport] of KIOSK_DISPLAYS) {
              await kiosk.setViewportSize(viewport);
              const text = await kiosk.locator('#kiosk-reconnecting').innerText();
              assert(text.includes('Connection lost'), `the notice says: ${text}`);
              await capture(kiosk, `kiosk-reconnecting-${orientation}`);
            }
          } finally {
            cable.restore();
          }
          await kiosk.locator('#kiosk-reconnecting').waitFor({ state: 'hidden', timeout: 20_000 });
          assert((await kiosk.evaluate(() => document.body.dataset.phase)) === 'in_call', 'the kiosk is back in the call');

          // Call-back: the advisor steps out and the citizen calls them back.
          await advisor.click('#handoff');
          await eventually(async () => !(await participantsByRole(kiosk)).advisor, 'the advisor to leave');
          await kiosk.locator('#call-advisor').waitFor({ state: 'visible' });
          await kiosk.click('#call-advisor');
          await eventually(async () => (await kiosk.evaluate(() => document.body.dataset.phase)) === 'call_back', 'the kiosk to say the advisor is coming');
          await advisor.locator('[data-callback]').waitFor();
          await checkKioskScreen(kiosk, 'call-back', expertLarge);

          // Feedback and thanks.
          await endByExpert(expert, kiosk);
          await checkKioskScreen(kiosk, 'feedback', (layout, orientation) => {
            assert(layout.small.length === 0, `${orientation}: small faces`);
          });
          await kiosk.click('#faces button[data-score="5"]');
          await kiosk.click('#feedback-send');
          await eventually(async () => (await screenOf(kiosk)) === 'thanks', 'the kiosk to thank');
          await checkKioskScreen(kiosk, 'thanks');
          await eventually(async () => (await screenOf(kiosk)) === 'idle', 'the kiosk to be idle again', 15_000);
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
          await assertFavicon(server, page);
          await assertReflows(page, `the home page (${lang})`);
          for (const [app, subject] of [['advisor', ADVISOR], ['expert', 'expert-vero-1'], ['interpreter', 'interpreter-sv-1']]) {
            await openStaff(page, server.base, app, subject, lang);
            await capture(page, `pages-${app}-${lang}`);
            await assertReflows(page, `the ${app} page (${lang})`);
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
        // The directory has loaded when the agencies table has its rows.
        await admin.locator('#agencies tbody tr').first().waitFor({ state: 'attached' });
        await checkAdminSections(admin);
      });
    },
  },
  {
    // The admin's live operations view: no one waiting; a citizen asks an
    // agency none of whose experts is online, and the view shows them
    // waiting with a growing wait; an expert comes online and accepts: no
    // one waiting, a call in progress; the session ends: no call. The view
    // refreshes every 5 s while shown and never while another section is,
    // says "unavailable" (and keeps trying) while the figures cannot be
    // had, speaks only when the figures change, in fi/sv/en, axe-checked;
    // /v1/operations is for admins only.
    name: 'operations-view',
    timeoutMs: 240_000,
    async run() {
      await withSystem(async (server, browser) => {
        const admin = await browser.page('admin');
        /** When the page asked for the figures. */
        const asked = [];
        admin.on('request', (request) => {
          if (new URL(request.url()).pathname === '/v1/operations') asked.push(Date.now());
        });
        /** The last answers, for a failure to show. */
        const answers = [];
        admin.on('response', async (response) => {
          if (new URL(response.url()).pathname !== '/v1/operations') return;
          const body = await response.text().catch((error) => `(unread: ${error.message})`);
          answers.push(`${new Date().toISOString()} ${response.status()} ${body.slice(0, 300)}`);
          answers.splice(0, answers.length - 4);
        });
        /** Waits for the view to show what `probe` checks, within three refreshes; a failure says what the server last answered. */
        const viewShows = (probe, what) => eventually(probe, what, 3 * 5_000 + 2_000).catch((error) => {
          throw new AssertionError(`${error.message}\n  the last answers:\n  ${answers.join('\n  ')}`);
        });
        await admin.goto(`${server.base}/admin/?as=admin-1&lang=fi`);
        // The view is the first section and the one shown by default.
        await admin.locator('#operations[data-state="ready"]').waitFor({ timeout: 20_000 });
        const first = await admin.locator('nav a[href^="#"]').first().getAttribute('href');
        assert(first === '#operations', `the first section is ${first}`);
        assert(await admin.locator('nav a[href="#operations"][aria-current="page"]').count() === 1, 'the operations view is the current section');
        // Everything the page's polite live region says from here on.
        await admin.evaluate(() => {
          const live = document.getElementById('live');
          window.__said = [];
          new MutationObserver(() => {
            if (live.textContent) window.__said.push(live.textContent);
          }).observe(live, { childList: true, characterData: true, subtree: true });
        });
        const said = (text) => admin.evaluate((text) => window.__said.filter((line) => line.includes(text)).length, text);
        const figure = async (name) => {
          const value = await admin.locator(`#operations dd[data-figure="${name}"]`).getAttribute('data-value');
          return value === '' ? null : Number(value);
        };
        const queueRow = (agency) => admin.locator(`#operations-queues tbody tr[data-agency="${agency}"]`);
        const queue = async (agency, field) => Number(await queueRow(agency).locator(`[data-field="${field}"]`).getAttribute('data-value'));

        // No one waiting; every agency listed by its name and code.
        assert((await figure('waiting')) === 0 && (await figure('calls')) === 0, 'no one waits and no call runs at first');
        await eventually(async () => (await queueRow('VERO').locator('th').textContent()) === 'Verohallinto (VERO)', 'the agency by its Finnish name and code');
        assert((await queue('VERO', 'waiting')) === 0, 'no one waits for VERO');
        const nodes = await figure('media_nodes');
        assert(nodes === null || nodes >= 1, `live media nodes: ${nodes}`);
        await capture(admin, 'operations-view-idle');

        // A kiosk connects; the advisor opens a session there.
        const kiosk = await browser.page('kiosk');
        const advisor = await browser.page('advisor');
        await openKiosk(kiosk, server.base, KIOSK, 'fi');
        await openStaff(advisor, server.base, 'advisor', ADVISOR);
        await viewShows(async () => (await figure('kiosks')) === 1, 'the view to count the connected kiosk');
        const start = advisor.locator(`li[data-kiosk="${KIOSK}"] button`);
        await start.waitFor();
        await start.click();
        await advisor.locator('#session-panel').waitFor({ state: 'visible' });
        await viewShows(async () => (await figure('rooms')) >= 1, 'the view to count the open session');

        // The citizen asks for Vero; no Vero expert is online, so they wait.
        await eventually(() => advisor.locator('#request-agency option[value="VERO"]').count(), 'the agencies to load');
        await advisor.selectOption('#request-agency', 'VERO');
        await advisor.selectOption('#request-language', 'fi');
        await advisor.click('#request-submit');
        await kiosk.locator('#queue').waitFor({ state: 'visible' });
        await viewShows(async () => (await queue('VERO', 'waiting')) === 1 && (await figure('waiting')) === 1, 'the view to show one citizen waiting for VERO');
        assert((await figure('calls')) === 0, 'no call while the citizen waits');
        const firstRow = await admin.locator('#operations-queues tbody tr').first().getAttribute('data-agency');
        assert(firstRow === 'VERO', `the agency with someone waiting comes first: ${firstRow}`);
        // The wait grows from one refresh to the next, shown as minutes:seconds.
        const waited = await queue('VERO', 'longest_wait_seconds');
        const updated = await admin.locator('#operations-updated time').getAttribute('data-at-ms');
        await viewShows(async () => (await queue('VERO', 'longest_wait_seconds')) > waited, 'the longest wait to grow');
        assert((await admin.locator('#operations-updated time').getAttribute('data-at-ms')) !== updated, 'the time of the last refresh moved on');
        const clock = await queueRow('VERO').locator('[data-field="longest_wait_seconds"] [aria-hidden="true"]').textContent();
        assert(/^\d+:[0-5]\d$/.test(clock ?? ''), `the wait as minutes:seconds: ${clock}`);
        // Said once, politely; not again while the figures stay the same.
        await eventually(async () => (await said('Jonoissa odottaa 1.')) === 1, 'the new figures to be said once');
        const refreshes = asked.length;

        // In each language, checked by axe, the agency in that language.
        for (const [lang, title, agency] of [['sv', 'Lägesbild', 'Skatteförvaltningen (VERO)'], ['en', 'Live operations', 'Tax Administration (VERO)'], ['fi', 'Tilannekuva', 'Verohallinto (VERO)']]) {
          await admin.selectOption('#language', lang);
          await admin.locator('#operations-title').filter({ hasText: title }).waitFor();
          await eventually(async () => (await queueRow('VERO').locator('th').textContent()) === agency, `the agency named in ${lang}`);
          await capture(admin, `operations-view-waiting-${lang}`);
        }
        await eventually(() => asked.length >= refreshes + 2, 'two more refreshes', 12_000);
        assert((await said('Jonoissa odottaa')) + (await said('Väntar i köerna')) + (await said('Waiting in the queues')) === 1,
          `the unchanged figures were said again: ${JSON.stringify(await admin.evaluate(() => window.__said))}`);

        // While the figures cannot be had, the view says so, keeps the last
        // ones with their time, and keeps trying; then it recovers.
        await admin.route('**/v1/operations', (route) => route.fulfill({
          status: 503,
          contentType: 'application/problem+json',
          body: JSON.stringify({ type: 'about:blank', title: 'Service Unavailable', status: 503, code: 'hub_unavailable', detail: 'no signal node runs the hub just now; try again' }),
        }));
        await admin.locator('#operations[data-state="unavailable"]').waitFor({ timeout: 10_000 });
        const notice = (await admin.locator('#operations-problem').textContent()) ?? '';
        assert(notice.includes('Lukuja ei juuri nyt saada') && notice.includes('klo'), `the view says the figures are unavailable and how old they are: ${notice}`);
        assert(await admin.locator('#operations-figures').isVisible(), 'the last figures stay on the screen');
        await capture(admin, 'operations-view-unavailable');
        const failing = asked.length;
        await eventually(() => asked.length >= failing + 1, 'the view to keep trying', 8_000);
        await admin.unroute('**/v1/operations');
        await admin.locator('#operations[data-state="ready"]').waitFor({ timeout: 10_000 });
        assert(await admin.locator('#operations-problem').isHidden(), 'the notice goes once the figures are back');
        assert((await said('Lukuja ei juuri nyt saada')) === 1, 'that the figures are unavailable is said once, not at every try');
        await eventually(async () => (await said('Luvut saadaan taas')) === 1, 'that the figures are back to be said');

        // Not refreshed while another section is shown; at once when shown again.
        await admin.click('nav a[href="#agencies"]');
        await admin.locator('#agencies').waitFor({ state: 'visible' });
        await sleep(500);
        const hidden = asked.length;
        await sleep(11_000);
        assert(asked.length === hidden, `the view asked for the figures ${asked.length - hidden} times while hidden`);
        await admin.click('nav a[href="#operations"]');
        await eventually(() => asked.length > hidden, 'the view to refresh as soon as it is shown', 3_000);

        // A Vero expert comes online and accepts: no one waits, a call runs.
        const expert = await browser.page('expert');
        await openStaff(expert, server.base, 'expert', 'expert-vero-1');
        await expert.click('#presence');
        const offer = expert.locator('.offer[data-kind="call"]');
        await offer.waitFor();
        await offer.locator('button[data-action="accept"]').click();
        await expert.locator('#call-panel').waitFor({ state: 'visible' });
        await viewShows(async () => (await figure('waiting')) === 0 && (await queue('VERO', 'waiting')) === 0 && (await figure('calls')) === 1,
          'the view to show no one waiting and one call in progress');
        await capture(admin, 'operations-view-call');

        // The session ends: no call.
        await endByExpert(expert, kiosk);
        await viewShows(async () => (await figure('calls')) === 0, 'the view to show no call after the session');

        // Admins only: an advisor's token is refused (403), no token or a bad one is not accepted (401).
        const refused = await admin.evaluate(async (subject) => {
          const minted = await fetch('/dev/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ subject }) });
          const token = (await minted.json()).access_token;
          const asAdvisor = await fetch('/v1/operations', { headers: { authorization: `Bearer ${token}` } });
          const without = await fetch('/v1/operations');
          const forged = await fetch('/v1/operations', { headers: { authorization: 'Bearer not-a-token' } });
          return { status: asAdvisor.status, code: (await asAdvisor.json()).code, without: without.status, forged: forged.status };
        }, ADVISOR);
        assert(refused.status === 403 && refused.code === 'forbidden', `an advisor's token: ${JSON.stringify(refused)}`);
        assert(refused.without === 401 && refused.forged === 401, `no token, a bad token: ${JSON.stringify(refused)}`);
        // The page, opened with a non-admin's identity, says so and stops asking.
        const other = await browser.page('admin-as-advisor');
        let otherAsked = 0;
        other.on('request', (request) => {
          if (new URL(request.url()).pathname === '/v1/operations') otherAsked += 1;
        });
        await other.goto(`${server.base}/admin/?as=${ADVISOR}&lang=fi`);
        await other.locator('#operations[data-state="unavailable"]').waitFor({ timeout: 10_000 });
        const forbidden = (await other.locator('#operations-problem').textContent()) ?? '';
        assert(forbidden.includes('Vain ylläpitäjät'), `the page says the view is for admins: ${forbidden}`);
        await sleep(6_000);
        assert(otherAsked === 1, `the page asked ${otherAsked} times after being refused`);
      });
    },
  },
  {
    // The kiosk's self-test on a service point network that lets only TCP
    // 443 out: first a kiosk with no camera or microphone at all (out of
    // service: its maintenance view shows by itself, the advisor sees it
    // and cannot open a session there, nor can a request behind the app's
    // back), then the same kiosk with its devices (calls work over TURN/TLS
    // with more delay: the advisor can start a session).
    name: 'kiosk-self-test',
    async run() {
      const turn = await Coturn.start();
      const sfuPort = await freeUdpPort();
      const network = loopbackPaths({ sfuPort, turnPort: turn.port, onlyTls443: true });
      const bare = await Browser.launch({ devices: false, trustSpki: turn.spki });
      try {
        await withSystem(async (server, browser) => {
          const advisor = await browser.page('advisor');
          await openStaff(advisor, server.base, 'advisor', ADVISOR);
          const listed = advisor.locator(`li[data-kiosk="${KIOSK}"]`);

          // No devices: out of service.
          const broken = await bare.page('kiosk-without-devices');
          await openKiosk(broken, server.base, KIOSK);
          await eventually(async () => (await broken.evaluate(() => document.body.dataset.selfTest)) === 'failed',
            'the kiosk without devices to fail its self-test', 40_000);
          await eventually(async () => (await screenOf(broken)) === 'maintenance', 'the maintenance view to show by itself');
          const problems = (await broken.locator('#maintenance-problems').textContent()) ?? '';
          assert(problems.includes('Kamera puuttuu') && problems.includes('Mikrofoni puuttuu'), `the kiosk says what is missing: ${problems}`);
          assert(await broken.locator('#maintenance-close').isHidden(), 'an out-of-service kiosk offers no way back to the welcome');
          await capture(broken, 'kiosk-self-test-out-of-service');
          await eventually(async () => (await listed.getAttribute('data-state')) === 'out_of_service', 'the advisor to see the kiosk out of service');
          assert(await listed.locator('button').count() === 0, 'no session can be started at a kiosk out of service');
          const said = (await listed.locator('.kiosk-readiness').textContent()) ?? '';
          assert(said.includes('Kamera puuttuu'), `the advisor reads why: ${said}`);
          await capture(advisor, 'kiosk-self-test-advisor-out-of-service');
          const refused = await advisor.evaluate((kiosk) => window.siltaApp.client.request({ type: 'session_open', kiosk }).then(() => 'opened', (error) => error.code), KIOSK);
          assert(refused === 'kiosk_not_ready', `the server refuses a session at a kiosk out of service: ${refused}`);
          const failedMetrics = await (await fetch(`${server.base}/metrics`)).text();
          assert(failedMetrics.includes('silta_kiosks{readiness="failed"} 1'), `/metrics counts the kiosk out of service:\n${failedMetrics.slice(0, 800)}`);
          await broken.close();

          // With its devices, behind the same firewall: degraded, usable.
          const kiosk = await browser.page('kiosk');
          await openKiosk(kiosk, server.base, KIOSK);
          await eventually(async () => ['ready', 'degraded'].includes(await kiosk.evaluate(() => document.body.dataset.selfTest ?? '')),
            'the kiosk to finish its self-test', 40_000);
          const readiness = await kiosk.evaluate(() => window.siltaApp.readiness);
          const works = Object.fromEntries(readiness.paths.map((check) => [check.path, check.works]));
          assert(works.udp === false && works.turn_udp === false && works.turn_tcp === false && works.turn_tls === true,
            `only TURN over TLS should work here: ${JSON.stringify(readiness.paths)}`);
          const tls = readiness.paths.find((check) => check.path === 'turn_tls');
          assert(Number.isInteger(tls.rtt_ms) && tls.rtt_ms >= 0 && tls.rtt_ms < 1000, `TURN/TLS has a round trip: ${JSON.stringify(tls)}`);
          assert(readiness.readiness === 'degraded' && readiness.problems.includes('tls_only'), `degraded, TLS only: ${JSON.stringify(readiness)}`);
          assert((await screenOf(kiosk)) === 'idle', 'a degraded kiosk welcomes citizens');
          await kiosk.click('#maintenance-open');
          await kiosk.locator('#screen-maintenance').waitFor({ state: 'visible' });
          const paths = await kiosk.locator('#maintenance-paths li').allTextContents();
          assert(paths.length === 4 && paths.some((line) => line.includes('TLS') && line.includes('ms')), `the maintenance view lists the paths: ${paths.join(' | ')}`);
          await capture(kiosk, 'kiosk-self-test-maintenance');
          await kiosk.click('#maintenance-close');
          await eventually(async () => (await screenOf(kiosk)) === 'idle', 'back to the welcome');
          await eventually(async () => (await listed.getAttribute('data-state')) === 'free', 'the advisor to see the kiosk free again');
          const note = (await listed.locator('.kiosk-readiness').textContent()) ?? '';
          assert(note.includes('TLS'), `the advisor reads that only TURN over TLS works: ${note}`);
          await capture(advisor, 'kiosk-self-test-advisor-degraded');
          const metrics = await (await fetch(`${server.base}/metrics`)).text();
          for (const line of ['silta_kiosks{readiness="degraded"} 1', 'silta_kiosks{readiness="failed"} 0', 'silta_kiosk_paths_working{path="turn_tls"} 1', 'silta_kiosk_paths_working{path="udp"} 0']) {
            assert(metrics.includes(line), `/metrics has ${line}:\n${metrics.slice(0, 800)}`);
          }
          await listed.locator('button').click();
          await eventually(async () => (await screenOf(kiosk)) === 'session', 'the session to open at the degraded kiosk');
        }, { env: { ...turn.env, SILTA_SFU__BIND: `127.0.0.1:${sfuPort}` }, browser: { trustSpki: turn.spki } });
      } finally {
        await bare.close();
        network.restore();
        await turn.stop();
      }
    },
  },
  relayFlow('udp'),
  relayFlow('tcp'),
  relayFlow('tls'),
  {
    // A service point whose network lets only TCP to port 443 out: no UDP
    // to the media server, no TURN over UDP or TCP. The apps are given all
    // three TURN URLs as usual and find TURN over TLS by themselves.
    name: 'turn-fallback',
    async run() {
      const turn = await Coturn.start();
      const sfuPort = await freeUdpPort();
      const network = loopbackPaths({ sfuPort, turnPort: turn.port, onlyTls443: true });
      try {
        await withSystem(async (server, browser) => {
          const { kiosk, expert } = await walkIn(server, browser, { prefix: 'turn-fallback' });
          await assertMediaFlows(kiosk, 'the kiosk', ['expert', 'advisor']);
          await assertMediaFlows(expert, 'the expert', ['kiosk']);
          const route = await eventually(() => mediaPath(kiosk), 'the kiosk\'s selected path');
          assert(route.type === 'relay' && route.relayProtocol === 'tls' && route.remotePort === sfuPort,
            `the kiosk's call should go through TURN over TLS to the media server (port ${sfuPort}): ${JSON.stringify(route)}`);
          assert(network.sfuToRelayPackets() > 100, 'the media server should be sending to the relay\'s address');
        }, { env: { ...turn.env, SILTA_SFU__BIND: `127.0.0.1:${sfuPort}` }, browser: { trustSpki: turn.spki } });
      } finally {
        network.restore();
        await turn.stop();
      }
    },
  },
];

/**
 * A call whose every peer connection may use only coturn over `transport`
 * (`iceTransportPolicy: 'relay'`): kiosk and expert see and hear each other
 * through the relay, and the media server sends to the relay's address
 * (counted on the wire with tc).
 * @param {'udp' | 'tcp' | 'tls'} transport
 */
function relayFlow(transport) {
  return {
    name: `turn-${transport}`,
    async run() {
      const turn = await Coturn.start();
      const sfuPort = await freeUdpPort();
      const network = loopbackPaths({ sfuPort });
      try {
        await withSystem(async (server, browser) => {
          const { kiosk, expert } = await walkIn(server, browser, { prefix: `turn-${transport}` });
          await assertMediaFlows(kiosk, 'the kiosk', ['expert']);
          await assertMediaFlows(expert, 'the expert', ['kiosk']);
          for (const [page, who] of [[kiosk, 'the kiosk'], [expert, 'the expert']]) {
            const route = await eventually(() => mediaPath(page), `${who}'s selected path`);
            assert(route.type === 'relay' && route.relayProtocol === transport && route.remotePort === sfuPort,
              `${who}'s call should go through TURN over ${transport} to the media server: ${JSON.stringify(route)}`);
            assert(route.port >= RELAY_PORTS.min && route.port <= RELAY_PORTS.max,
              `${who}'s relayed address should be one of coturn's relay ports: ${JSON.stringify(route)}`);
          }
          // What the SFU sends goes to the relay's address, not the browser's.
          assert(network.sfuToRelayPackets() > 100, 'the media server should be sending to the relay\'s address');
        }, { env: { ...turn.env, SILTA_SFU__BIND: `127.0.0.1:${sfuPort}` }, browser: { relayOnly: transport, trustSpki: turn.spki } });
      } finally {
        network.restore();
        await turn.stop();
      }
    },
  };
}

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
    await admin.locator(`nav a[href="${href}"][aria-current="page"]`).waitFor();
    await admin.locator(href).waitFor({ state: 'visible' });
    if (href === '#statistics') await admin.locator('#statistics-table').first().waitFor({ state: 'visible' });
    if (href === '#operations') await admin.locator('#operations[data-state="ready"]').waitFor();
    await capture(admin, `pages-admin-${href.slice(1)}`);
    await assertReflows(admin, `the admin section ${href}`);
  }
}
