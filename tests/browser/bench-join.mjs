// Join benchmark in Chromium (not a test: figures for docs/benchmarks.md).
// A kiosk, an advisor and an expert in a call; the advisor steps out and
// comes back N times. Per round: the advisor's join request → its first
// decoded remote frame (pressing "Return to the session"), and the longest time
// the citizen's video from the expert stood still meanwhile. Also the
// WebSocket open → welcome time of each page.
//
//   node bench-join.mjs [rounds]     (re-executes itself in a loopback-only namespace)

import { walkIn } from './flows.mjs';
import { Browser, Server, assertMediaFlows, inLoopbackNamespace, participantsByRole, sleep, startFrameWatch } from './lib.mjs';

inLoopbackNamespace(import.meta.url);

const rounds = Number(process.argv[2] ?? 10);
const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};

const server = await Server.start();
const browser = await Browser.launch();
try {
  const { kiosk, advisor, expert } = await walkIn(server, browser, { prefix: 'bench' });
  await assertMediaFlows(advisor, 'the advisor', ['kiosk', 'expert']);
  const welcome = [];
  for (const page of [kiosk, advisor, expert]) {
    welcome.push(await page.evaluate(() => window.siltaApp.client.timing.welcomed - window.siltaApp.client.timing.opened));
  }
  const joins = [];
  const stills = [];
  const expertId = (await participantsByRole(kiosk)).expert[0];
  const counters = async () => {
    const text = await (await fetch(`${server.base}/metrics`)).text();
    const value = (name) => Number(text.match(new RegExp(`^${name} (\\d+)`, 'm'))?.[1] ?? 0);
    return { switches: value('silta_sfu_layer_switches_total'), keyframes: value('silta_sfu_keyframe_requests_total') };
  };
  for (let round = 0; round < rounds; round += 1) {
    const before = await counters();
    const watch = await startFrameWatch(kiosk, expertId);
    await advisor.click('#handoff');
    await advisor.locator('#session-panel').waitFor({ state: 'hidden' });
    await sleep(500);
    await advisor.locator('li[data-kiosk="kiosk-kemi-1"] button').waitFor({ timeout: 10_000 }).catch(async (error) => {
      await advisor.screenshot({ path: '/tmp/bench-fail.png' });
      console.log(await advisor.locator('#kiosks').innerHTML());
      throw error;
    });
    // In the page: press "Return to the session" and wait for the first
    // decoded frame.
    const firstFrame = await advisor.evaluate(async () => {
      const started = performance.now();
      /** @type {HTMLButtonElement} */ (document.querySelector('li[data-kiosk="kiosk-kemi-1"] button')).click();
      for (;;) {
        const media = window.siltaApp.session?.media;
        if (media) {
          let frames = 0;
          (await media.pc.getStats()).forEach((e) => {
            if (e.type === 'inbound-rtp' && e.kind === 'video') frames += e.framesDecoded ?? 0;
          });
          if (frames > 0) return performance.now() - started;
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    });
    joins.push(firstFrame);
    await sleep(1000);
    const watched = await watch.stop();
    if (process.env.SILTA_TEST_VERBOSE) console.log(JSON.stringify(watched));
    stills.push(watched.maxStill);
    const after = await counters();
    process.stdout.write(
      `round ${round + 1}: join → first frame ${Math.round(firstFrame)} ms, citizen's video still at most ${stills.at(-1)} ms ` +
        `(SFU: ${after.switches - before.switches} layer switches, ${after.keyframes - before.keyframes} keyframe requests)\n`,
    );
  }
  console.log(`\nWebSocket open → welcome: ${welcome.map((ms) => Math.round(ms)).join(' / ')} ms (kiosk / advisor / expert)`);
  console.log(`join request → first decoded frame over ${rounds} rounds: p50 ${Math.round(percentile(joins, 50))} ms, p95 ${Math.round(percentile(joins, 95))} ms, max ${Math.round(Math.max(...joins))} ms`);
  console.log(`citizen's video stood still at most: p50 ${percentile(stills, 50)} ms, max ${Math.max(...stills)} ms`);
} finally {
  await browser.close();
  await server.stop();
}
