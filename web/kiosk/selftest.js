// The kiosk's self-test: before it takes citizens (at start-up, and every
// few minutes while idle) it checks its camera, microphone and document
// camera, and which paths to the media node work — UDP straight to the
// node, and through the TURN relay over UDP, TCP and TLS — with their round
// trips. Each path is a throw-away peer connection (receiving nothing)
// that the signal service admits to a probe room on a media node for a
// few seconds. The signal service judges the result (`self_test_assessed`)
// and shows it to the service point's advisors; a kiosk that fails is
// offered to no citizen.

import { SignalError } from '../shared/client.js';

/** How often an idle kiosk tests itself again. */
export const SELF_TEST_INTERVAL_MS = 10 * 60 * 1000;
/** How long one path may take to connect. */
const PATH_TIMEOUT_MS = 8000;

/** @typedef {import('../types/wire').ProbePath} ProbePath */
/** @typedef {import('../types/wire').DeviceState} DeviceState */
/** @typedef {import('../types/wire').PathCheck} PathCheck */
/** @typedef {import('../types/wire').KioskReadiness} KioskReadiness */

/**
 * Opens a device and stops it again.
 * @param {MediaStreamConstraints} constraints
 * @returns {Promise<DeviceState>}
 */
async function opens(constraints) {
  try {
    const stream = await navigator.mediaDevices.getUserMedia(constraints);
    const live = stream.getTracks().length > 0 && stream.getTracks().every((track) => track.readyState === 'live');
    stream.getTracks().forEach((track) => track.stop());
    return live ? 'ok' : 'failed';
  } catch {
    return 'failed';
  }
}

/** The devices: the first camera faces the citizen, a second one is the document camera. */
export async function checkDevices() {
  // Device ids are listed only once the page may use the devices.
  await opens({ audio: true, video: true });
  const all = await navigator.mediaDevices.enumerateDevices();
  const cameras = all.filter((device) => device.kind === 'videoinput');
  const microphones = all.filter((device) => device.kind === 'audioinput');
  /** @param {MediaDeviceInfo | undefined} device @param {'audio' | 'video'} kind @returns {Promise<DeviceState>} */
  const check = async (device, kind) => {
    if (!device) return 'missing';
    return opens({ [kind]: device.deviceId ? { deviceId: { exact: device.deviceId } } : true });
  };
  return {
    camera: await check(cameras[0], 'video'),
    microphone: await check(microphones[0], 'audio'),
    document_camera: await check(cameras[1], 'video'),
  };
}

/**
 * The TURN URLs of one relayed path.
 * @param {string[]} urls @param {ProbePath} path
 */
function urlsFor(urls, path) {
  if (path === 'turn_tls') return urls.filter((url) => url.startsWith('turns:'));
  const transport = path === 'turn_udp' ? 'udp' : 'tcp';
  return urls.filter((url) => url.startsWith('turn:') && url.includes(`transport=${transport}`));
}

/**
 * Tries one path: a peer connection that may use only it, offered to the
 * media node through the signal service; works when ICE connects over it.
 * @param {import('../shared/client.js').SignalClient} client
 * @param {ProbePath} path
 * @returns {Promise<PathCheck | null>} null when the path is not configured
 */
async function probe(client, path) {
  const turn = client.welcome?.turn;
  /** @type {RTCConfiguration} */
  let config = { iceServers: [] };
  if (path !== 'udp') {
    const urls = urlsFor(turn?.urls ?? [], path);
    if (!turn || urls.length === 0) return null;
    config = { iceServers: [{ urls, username: turn.username, credential: turn.credential }], iceTransportPolicy: 'relay' };
  }
  const pc = new RTCPeerConnection(config);
  try {
    pc.addTransceiver('audio', { direction: 'recvonly' });
    /** @type {RTCIceCandidate[] | null} candidates held until the node has the offer */
    let held = [];
    const send = (/** @type {RTCIceCandidate} */ c) =>
      client.request({ type: 'probe_candidate', path, candidate: { candidate: c.candidate, sdp_mid: c.sdpMid, sdp_m_line_index: c.sdpMLineIndex } })
        .catch(() => {});
    pc.addEventListener('icecandidate', (event) => {
      if (!event.candidate || !event.candidate.candidate) return;
      if (held) held.push(event.candidate);
      else send(event.candidate);
    });
    await pc.setLocalDescription(await pc.createOffer());
    const reply = await client.request({ type: 'probe_offer', path, sdp: pc.localDescription?.sdp ?? '' });
    await pc.setRemoteDescription({ type: 'answer', sdp: reply.sdp });
    const waiting = held ?? [];
    held = null;
    waiting.forEach(send);
    const connected = await new Promise((resolve) => {
      const done = (/** @type {boolean} */ ok) => {
        window.clearTimeout(timer);
        pc.removeEventListener('iceconnectionstatechange', changed);
        resolve(ok);
      };
      const changed = () => {
        if (pc.iceConnectionState === 'connected' || pc.iceConnectionState === 'completed') done(true);
        if (pc.iceConnectionState === 'failed') done(false);
      };
      const timer = window.setTimeout(() => done(false), PATH_TIMEOUT_MS);
      pc.addEventListener('iceconnectionstatechange', changed);
      changed();
    });
    if (!connected) return { path, works: false };
    return { path, works: true, rtt_ms: await roundTrip(pc) };
  } catch (error) {
    // Refused by the signal service (no media node has room, too soon, a
    // lost connection): that says nothing of the kiosk's network, so the
    // whole test is left unreported and the last verdict stands.
    if (error instanceof SignalError) throw error;
    console.warn(`silta: self-test path ${path} failed`, error);
    return { path, works: false };
  } finally {
    pc.close();
  }
}

/**
 * The selected candidate pair's round trip in milliseconds (from ICE's own
 * checks), waiting briefly for the first measurement.
 * @param {RTCPeerConnection} pc
 */
async function roundTrip(pc) {
  for (let attempt = 0; attempt < 10; attempt++) {
    const report = await pc.getStats();
    /** @type {number | undefined} */
    let rtt;
    report.forEach((entry) => {
      if (entry.type === 'candidate-pair' && entry.nominated && entry.state === 'succeeded' && entry.currentRoundTripTime !== undefined) {
        rtt = entry.currentRoundTripTime;
      }
    });
    if (rtt !== undefined) return Math.max(0, Math.round(rtt * 1000));
    await new Promise((resolve) => window.setTimeout(resolve, 200));
  }
  return undefined;
}

/**
 * Runs the whole self-test and reports it; returns what was found of the
 * devices and the server's verdict.
 * @param {import('../shared/client.js').SignalClient} client
 * @returns {Promise<{devices: import('../types/wire').DeviceChecks, readiness: KioskReadiness}>}
 */
export async function runSelfTest(client) {
  const devices = await checkDevices();
  /** @type {ProbePath[]} */
  const paths = ['udp', 'turn_udp', 'turn_tcp', 'turn_tls'];
  let checks;
  try {
    checks = await Promise.all(paths.map((path) => probe(client, path)));
  } finally {
    await client.request({ type: 'probe_end' }).catch(() => {});
  }
  /** @type {PathCheck[]} */
  const tried = checks.filter((check) => check !== null);
  const reply = await client.request({ type: 'self_test_report', devices, paths: tried });
  return { devices, readiness: reply.readiness };
}
