// Join benchmark in Chromium (not a test: figures for docs/benchmarks.md).
// A kiosk, an advisor and an expert in a call; the advisor steps out and
// comes back N times. Per round: the advisor's join request → its first
// decoded remote frame (pressing "Return to the session"), and the longest time
// the citizen's video from the expert stood still meanwhile, and the join's
// phases as the advisor's page sees them: the requests it sends and their
// replies, the camera, the `sdp_offer` events from the node (a second
// round), the answer applied, ICE and DTLS connected, the first video RTP
// and the first decoded frame, and how long each of the browser's own SDP
// steps took. Also the WebSocket open → welcome time of each page.
//
// Two measures of the first frame: "first frame" is the first `getStats`
// poll that counts a decoded frame (the figure of the earlier tables; each
// poll waits for the browser's threads: tens of ms late when loaded), and
// "first remote frame shown" is exact: a video element's
// `requestVideoFrameCallback` for a track of the new connection, with the
// time that frame's last packet came in ("shown frame received"). The
// "(event)" and "(unmute)" phases come from the connection's and tracks'
// own events, not from polling.
//
//   node bench-join.mjs [rounds]     (re-executes itself in a loopback-only namespace)
//   SILTA_BENCH_LOG=<file>           also writes everything the server logged there
//                                    (with e.g. SILTA_TEST_LOG=warn,silta_sfu=debug)

import { writeFileSync } from 'node:fs';

import { walkIn } from './flows.mjs';
import { Browser, Server, assertMediaFlows, inLoopbackNamespace, participantsByRole, sleep, startFrameWatch } from './lib.mjs';

inLoopbackNamespace(import.meta.url);

const rounds = Number(process.argv[2] ?? 10);
const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};

const server = await Server.start({ keepLog: Boolean(process.env.SILTA_BENCH_LOG) });
const browser = await Browser.launch();
try {
  const { kiosk, advisor, expert } = await walkIn(server, browser, { prefix: 'bench' });
  await assertMediaFlows(advisor, 'the advisor', ['kiosk', 'expert']);
  const welcome = [];
  for (const page of [kiosk, advisor, expert]) {
    welcome.push(await page.evaluate(() => window.siltaApp.client.timing.welcomed - window.siltaApp.client.timing.opened));
  }
  const joins = [];
  const shownJoins = [];
  const stills = [];
  /** @type {Array<Record<string, number>>} */
  const phases = [];
  /** @type {Array<Record<string, number>>} */
  const steps = [];
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
    // decoded frame, marking each phase on the way (ms from the press).
    const { firstFrame, firstShown, marks, durations } = await advisor.evaluate(async () => {
      const started = performance.now();
      /** @type {Record<string, number>} */
      const marks = {};
      /** @type {Record<string, number>} the browser's own SDP steps, ms each */
      const durations = {};
      const mark = (/** @type {string} */ name) => {
        if (!(name in marks)) marks[name] = Math.round(performance.now() - started);
      };
      const client = window.siltaApp.client;
      const request = client.request;
      client.request = /** @type {any} */ (
        async (/** @type {any} */ message) => {
          mark(`${message.type} sent`);
          const reply = await request.call(client, message);
          mark(`${message.type} replied`);
          return reply;
        }
      );
      const devices = navigator.mediaDevices;
      const getUserMedia = devices.getUserMedia;
      devices.getUserMedia = async (constraints) => {
        const stream = await getUserMedia.call(devices, constraints);
        mark('camera open');
        return stream;
      };
      const proto = RTCPeerConnection.prototype;
      const originals = { setRemoteDescription: proto.setRemoteDescription, setLocalDescription: proto.setLocalDescription, createAnswer: proto.createAnswer, createOffer: proto.createOffer };
      for (const [name, original] of Object.entries(originals)) {
        /** @type {any} */ (proto)[name] = async function (/** @type {any[]} */ ...args) {
          const label = `${name}${args[0]?.type ? `(${args[0].type})` : ''} took`;
          const at = performance.now();
          const result = await /** @type {any} */ (original).apply(this, args);
          if (!(label in durations)) durations[label] = Math.round(performance.now() - at);
          if (name === 'setRemoteDescription' && args[0]?.type === 'answer') mark('answer applied');
          return result;
        };
      }
      const addTransceiver = proto.addTransceiver;
      proto.addTransceiver = function (/** @type {any[]} */ ...args) {
        mark('first addTransceiver');
        const result = /** @type {any} */ (addTransceiver).apply(this, args);
        marks['last addTransceiver'] = Math.round(performance.now() - started);
        return result;
      };
      const nodeOffer = () => mark('node offer');
      client.addEventListener('sdp_offer', nodeOffer);
      const before = window.siltaApp.session?.media;
      /** @type {HTMLButtonElement} */ (document.querySelector('li[data-kiosk="kiosk-kemi-1"] button')).click();
      /** @type {Set<HTMLVideoElement>} */
      const watched = new Set();
      /** @type {Set<RTCPeerConnection>} */
      const listened = new Set();
      // The first remote frame the page shows: a video element's frame
      // callback (the compositor presented it) whose stream carries a track
      // of the new connection's receivers. Not polled, so exact.
      const shown = 'first remote frame shown';
      const watchVideo = (/** @type {HTMLVideoElement} */ video) =>
        video.requestVideoFrameCallback((_, metadata) => {
          const media = window.siltaApp.session?.media;
          const stream = video.srcObject;
          const remote =
            media &&
            media !== before &&
            stream instanceof MediaStream &&
            stream.getVideoTracks().some((track) => media.pc.getReceivers().some((receiver) => receiver.track === track));
          if (remote && !(shown in marks)) {
            mark(shown);
            // When the frame's last packet came in (WebRTC's frames only).
            if (metadata.receiveTime) marks['shown frame received'] = Math.round(metadata.receiveTime - started);
          } else if (!(shown in marks)) {
            watchVideo(video);
          }
        });
      try {
        for (;;) {
          const media = window.siltaApp.session?.media;
          if (media && media !== before && !listened.has(media.pc)) {
            listened.add(media.pc);
            media.pc.addEventListener('iceconnectionstatechange', () => {
              if (['connected', 'completed'].includes(media.pc.iceConnectionState)) mark('ICE connected (event)');
            });
            media.pc.addEventListener('track', (event) => {
              if (event.track.kind === 'video') mark('first video track event');
            });
            media.pc.addEventListener('connectionstatechange', () => {
              if (media.pc.connectionState === 'connected') mark('DTLS connected (event)');
            });
            for (const transceiver of media.pc.getTransceivers()) {
              const track = transceiver.receiver.track;
              if (track.kind === 'video') track.addEventListener('unmute', () => mark('first video RTP (unmute)'));
            }
          }
          for (const video of document.querySelectorAll('video')) {
            if (!watched.has(video) && 'requestVideoFrameCallback' in video) {
              watched.add(video);
              watchVideo(video);
            }
          }
          if (media && media !== before) {
            if (['connected', 'completed'].includes(media.pc.iceConnectionState)) mark('ICE connected');
            if (media.pc.connectionState === 'connected') mark('DTLS connected');
            let packets = 0;
            let frames = 0;
            (await media.pc.getStats()).forEach((e) => {
              if (e.type === 'inbound-rtp' && e.kind === 'video') {
                packets += e.packetsReceived ?? 0;
                frames += e.framesDecoded ?? 0;
              }
            });
            if (packets > 0) mark('first video RTP');
            if (frames > 0) mark('first frame');
            // Both measures of the first frame (the shown one within 2 s).
            if ('first frame' in marks && (shown in marks || performance.now() - started > marks['first frame'] + 2000)) {
              return { firstFrame: marks['first frame'], firstShown: marks[shown], marks, durations };
            }
          }
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      } finally {
        client.request = request;
        devices.getUserMedia = getUserMedia;
        client.removeEventListener('sdp_offer', nodeOffer);
        Object.assign(proto, originals, { addTransceiver });
      }
    });
    phases.push(marks);
    steps.push(durations);
    joins.push(firstFrame);
    if (firstShown !== undefined) shownJoins.push(firstShown);
    await sleep(1000);
    const watched = await watch.stop();
    if (process.env.SILTA_TEST_VERBOSE) console.log(JSON.stringify(watched));
    stills.push(watched.maxStill);
    const after = await counters();
    process.stdout.write(
      `round ${round + 1}: join → first frame ${Math.round(firstFrame)} ms (shown ${firstShown ?? '–'} ms), citizen's video still at most ${stills.at(-1)} ms ` +
        `(SFU: ${after.switches - before.switches} layer switches, ${after.keyframes - before.keyframes} keyframe requests)\n` +
        `  ${Object.entries(phases.at(-1) ?? {}).sort((a, b) => a[1] - b[1]).map(([name, ms]) => `${name} ${ms}`).join(' · ')}\n`,
    );
  }
  console.log(`\nWebSocket open → welcome: ${welcome.map((ms) => Math.round(ms)).join(' / ')} ms (kiosk / advisor / expert)`);
  console.log(`join request → first decoded frame over ${rounds} rounds: p50 ${Math.round(percentile(joins, 50))} ms, p95 ${Math.round(percentile(joins, 95))} ms, max ${Math.round(Math.max(...joins))} ms`);
  console.log(
    `join request → first remote frame shown (requestVideoFrameCallback) in ${shownJoins.length} of ${rounds} rounds: ` +
      `p50 ${percentile(shownJoins, 50)} ms, p95 ${percentile(shownJoins, 95)} ms, max ${Math.max(...shownJoins)} ms`,
  );
  const summary = (/** @type {Array<Record<string, number>>} */ records, /** @type {string} */ title) => {
    console.log(title);
    const names = [...new Set(records.flatMap((record) => Object.keys(record)))];
    const p50 = (/** @type {string} */ name) => percentile(records.map((record) => record[name]).filter((v) => v !== undefined), 50);
    for (const name of names.sort((a, b) => p50(a) - p50(b))) {
      const values = records.map((record) => record[name]).filter((v) => v !== undefined);
      console.log(`  ${name}: ${percentile(values, 50)} / ${percentile(values, 95)}${values.length < records.length ? ` (in ${values.length} of ${records.length} rounds)` : ''}`);
    }
  };
  summary(phases, 'phases, ms from the press (p50 / p95 over the rounds):');
  summary(steps, "the browser's SDP steps, ms each (p50 / p95):");
  console.log(`citizen's video stood still at most: p50 ${percentile(stills, 50)} ms, max ${Math.max(...stills)} ms`);
} finally {
  await browser.close();
  await server.stop();
  if (process.env.SILTA_BENCH_LOG) writeFileSync(process.env.SILTA_BENCH_LOG, server.fullLog());
}
