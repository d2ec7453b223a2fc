// Sign-language video benchmark in Chromium (not a test: figures for
// docs/benchmarks.md). A kiosk, an expert and an interpreter in a call (the
// advisor handed off); the kiosk's link is cut to a rate each way (tc on
// `lo` of a loopback-only namespace: an HTB class for the datagrams to the
// kiosk's media port and one for those from it, 20-packet queues).
// Measured over a window after the bandwidth estimates settled, once a
// second from getStats: at the kiosk, the interpreter's video frame rate
// (frames decoded per second) and height, and how far the interpreter's
// audio and video are apart (their jitter-buffer delays over the second;
// Chromium plays a stream's audio and video in sync up to that difference);
// at the expert, the citizen's video (what the kiosk sends up the narrow
// link) the same way. Two calls under the same link: a Finnish Sign
// Language interpreter (the kiosk and the interpreter sign:
// `maintain-framerate`, the SFU's motion layers) and a Swedish one
// (resolution may win).
//
//   node bench-sign.mjs [kbit/s] [seconds]    (defaults 600 and 20)

import { spawnSync } from 'node:child_process';
import { acceptInterpretation, idOf, walkIn } from './flows.mjs';
import { Browser, Server, assertMediaFlows, eventually, inLoopbackNamespace, mediaPort, openStaff, sleep } from './lib.mjs';

inLoopbackNamespace(import.meta.url);

const rateKbit = Number(process.argv[2] ?? 600);
const seconds = Number(process.argv[3] ?? 20);

/** @param {string[]} args */
function tc(...args) {
  const result = spawnSync('tc', args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`tc ${args.join(' ')}: ${result.stderr || result.error}`);
}

/** Datagrams to and from `port` on `lo` each go through a `rate` kbit/s class with a 20-packet queue. */
function shapeTo(port, rate) {
  tc('qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'htb', 'default', '10');
  tc('class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '10gbit');
  for (const [classid, direction] of [['30', 'dport'], ['40', 'sport']]) {
    tc('class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', `1:${classid}`, 'htb', 'rate', `${rate}kbit`, 'ceil', `${rate}kbit`);
    tc('qdisc', 'add', 'dev', 'lo', 'parent', `1:${classid}`, 'handle', `${classid}:`, 'pfifo', 'limit', '20');
    tc('filter', 'add', 'dev', 'lo', 'parent', '1:', 'protocol', 'ip', 'prio', '1', 'u32',
      'match', 'ip', 'protocol', '17', '0xff', 'match', 'ip', direction, String(port), '0xffff', 'flowid', `1:${classid}`);
  }
  return () => tc('qdisc', 'del', 'dev', 'lo', 'root');
}

/** A page's inbound streams by participant and kind: cumulative counters. */
function inbound(page) {
  return page.evaluate(async () => {
    const media = window.siltaApp.session.media;
    const byTrack = new Map();
    for (const [participant, stream] of media.remote) for (const track of stream.getTracks()) byTrack.set(track.id, participant);
    const report = await media.pc.getStats();
    const streams = {};
    report.forEach((entry) => {
      if (entry.type !== 'inbound-rtp') return;
      const participant = byTrack.get(entry.trackIdentifier);
      if (!participant) return;
      const key = `${participant}/${entry.kind}`;
      const previous = streams[key];
      // The camera is the stream with the most frames (a second source is idle).
      if (previous && (previous.framesDecoded ?? 0) > (entry.framesDecoded ?? 0)) return;
      streams[key] = {
        fps: entry.framesPerSecond ?? 0,
        width: entry.frameWidth ?? 0,
        height: entry.frameHeight ?? 0,
        framesDecoded: entry.framesDecoded ?? 0,
        delay: entry.jitterBufferDelay ?? 0,
        emitted: entry.jitterBufferEmittedCount ?? 0,
      };
    });
    return streams;
  });
}

const mean = (values) => values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
};

/** One call under the shaped link. @param {'fse' | 'sv'} language */
async function call(language) {
  const server = await Server.start();
  const browser = await Browser.launch();
  try {
    const { kiosk, advisor, expert } = await walkIn(server, browser, { prefix: `bench-sign-${language}`, language: 'fi' });
    await advisor.click('#handoff');
    const interpreter = await browser.page('interpreter');
    await openStaff(interpreter, server.base, 'interpreter', `interpreter-${language}-1`);
    await interpreter.click('#presence');
    await acceptInterpretation(expert, interpreter, language);
    await assertMediaFlows(kiosk, 'the kiosk', ['expert', 'interpreter']);
    const interpreterId = await idOf(kiosk, 'interpreter');
    const kioskId = await idOf(expert, 'kiosk');
    const port = await eventually(() => mediaPort(kiosk, 'local'), 'the kiosk media port');
    const unshape = shapeTo(port, rateKbit);
    let shaped = true;
    try {
      await sleep(15_000);
      const fps = [];
      const citizenFps = [];
      const citizenSizes = [];
      const sizes = [];
      const apart = [];
      let last = await inbound(kiosk);
      let lastAtExpert = await inbound(expert);
      for (let second = 0; second < seconds; second += 1) {
        await sleep(1000);
        const now = await inbound(kiosk);
        const atExpert = await inbound(expert);
        const citizen = atExpert[`${kioskId}/video`];
        const citizenBefore = lastAtExpert[`${kioskId}/video`];
        if (citizen && citizenBefore) {
          citizenFps.push(citizen.framesDecoded - citizenBefore.framesDecoded);
          citizenSizes.push(citizen.height);
        }
        lastAtExpert = atExpert;
        const video = now[`${interpreterId}/video`];
        const audio = now[`${interpreterId}/audio`];
        const before = { video: last[`${interpreterId}/video`], audio: last[`${interpreterId}/audio`] };
        if (video && before.video) {
          fps.push(video.framesDecoded - before.video.framesDecoded);
          sizes.push(video.height);
        }
        const delay = (now, then) => (now && then && now.emitted > then.emitted ? (now.delay - then.delay) / (now.emitted - then.emitted) : null);
        const videoDelay = delay(video, before.video);
        const audioDelay = delay(audio, before.audio);
        if (videoDelay !== null && audioDelay !== null) apart.push(Math.abs(videoDelay - audioDelay) * 1000);
        last = now;
      }
      // The link restored: how the expert's video (paused at the kiosk on
      // the narrowest links of a signed call) comes back.
      unshape();
      shaped = false;
      const expertId = await idOf(kiosk, 'expert');
      await sleep(15_000);
      const expertBefore = (await inbound(kiosk))[`${expertId}/video`]?.framesDecoded ?? 0;
      await sleep(5_000);
      const expertAfter = (await inbound(kiosk))[`${expertId}/video`]?.framesDecoded ?? 0;
      return {
        language,
        expertBack: (expertAfter - expertBefore) / 5,
        fpsMean: mean(fps),
        fpsP10: percentile(fps, 10),
        height: percentile(sizes, 50),
        citizenFps: mean(citizenFps),
        citizenP10: percentile(citizenFps, 10),
        citizenHeight: percentile(citizenSizes, 50),
        apartP50: percentile(apart, 50),
        apartP95: percentile(apart, 95),
      };
    } finally {
      if (shaped) unshape();
    }
  } finally {
    await browser.close();
    await server.stop();
  }
}

console.log(`the kiosk's link: ${rateKbit} kbit/s each way (20-packet queues); ${seconds} one-second samples after 15 s`);
console.log('| call | interpreter at the kiosk: fps mean | p10 | height p50 | A/V apart p50 | p95 | citizen at the expert: fps mean | p10 | height p50 | expert at the kiosk 15 s after the link is restored: fps |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const language of /** @type {const} */ ((process.env.BENCH_ONLY ? [process.env.BENCH_ONLY] : ['fse', 'sv']))) {
  const r = await call(language);
  const name = language === 'fse' ? 'sign language (fse): kiosk and interpreter sign' : 'spoken (sv)';
  console.log(
    `| ${name} | ${r.fpsMean.toFixed(1)} | ${r.fpsP10} | ${r.height} px | ${r.apartP50.toFixed(0)} ms | ${r.apartP95.toFixed(0)} ms | ${r.citizenFps.toFixed(1)} | ${r.citizenP10} | ${r.citizenHeight} px | ${r.expertBack.toFixed(1)} |`,
  );
}
