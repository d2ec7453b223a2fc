// The harness of the browser tests: a `silta dev` server per test, Debian's
// Chromium driven by playwright-core with fake media devices, axe-core
// checks, screenshots, WebRTC statistics probes and a TCP proxy that can
// cut a kiosk's network.
//
// Everything runs inside a network namespace that has only `lo` (run.mjs
// re-executes itself under `unshare -n`), so no media leaves loopback.

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import http2 from 'node:http2';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repository = path.resolve(here, '../..');
const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(process.env.HOME ?? '/root', '.cache/silta-target');
export const siltaBinary = process.env.SILTA_BIN ?? path.join(targetDir, 'debug/silta');
export const screenshotDir = process.env.SILTA_SCREENSHOTS ?? path.join(here, 'screenshots');
const axeSource = readFileSync(path.join(here, 'node_modules/axe-core/axe.min.js'), 'utf8');

export const CHROMIUM_ARGS = [
  '--allow-loopback-in-peer-connection',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream=fps=30',
  '--autoplay-policy=no-user-gesture-required',
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  // Background pages must keep rendering and decoding at full rate.
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
  '--auto-select-desktop-capture-source=Entire screen',
];

/**
 * Runs the calling script again inside a network namespace that has only
 * `lo` (`unshare -n`), with the same arguments, and exits with its status;
 * returns at once when already inside one. Every media test and benchmark
 * starts with it: no media leaves loopback.
 * @param {string} scriptUrl the caller's `import.meta.url`
 */
export function inLoopbackNamespace(scriptUrl) {
  if (process.env.SILTA_IN_NETNS) return;
  const script = fileURLToPath(scriptUrl);
  const args = process.argv.slice(2).map((arg) => `'${arg.replace(/'/g, '')}'`).join(' ');
  const result = spawnSync('unshare', ['-n', 'sh', '-c', `ip link set lo up && exec "${process.execPath}" "${script}" ${args}`], {
    stdio: 'inherit',
    env: { ...process.env, SILTA_IN_NETNS: '1' },
  });
  if (result.error) {
    console.error(`cannot enter a loopback-only network namespace (unshare -n): ${result.error.message}`);
    process.exit(1);
  }
  process.exit(result.status ?? 1);
}

export class AssertionError extends Error {}

/** @param {unknown} condition @param {string} message */
export function assert(condition, message) {
  if (!condition) throw new AssertionError(message);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` until it returns a truthy value.
 * @template T
 * @param {() => Promise<T> | T} probe
 * @param {string} what
 * @param {number} [timeoutMs]
 * @returns {Promise<T>}
 */
export async function eventually(probe, what, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await probe();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    await sleep(100);
  }
  throw new AssertionError(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
}

/**
 * Starts the silta binary with `args` in a clean environment plus `env`
 * (the runner's own SILTA_* variables would be refused as unknown
 * settings), keeping what it logs (the last 200 kB) for a failing test to
 * show; resolves once its standard output matches `ready`.
 * @param {string[]} args @param {Record<string, string>} env @param {RegExp} ready
 * @param {string} what @param {number} timeoutMs
 */
async function launchSilta(args, env, ready, what, timeoutMs, keepLog = false) {
  const child = spawn(siltaBinary, args, {
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('SILTA_'))), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  /** @type {{text: string, all: Buffer[] | null}} */
  const log = { text: '', all: keepLog ? [] : null };
  child.stdout.on('data', (chunk) => log.all?.push(chunk));
  child.stderr.on('data', (chunk) => {
    output += chunk;
    log.all?.push(chunk);
    log.text = (log.text + chunk).slice(-200_000);
    if (process.env.SILTA_TEST_LOG) process.stderr.write(chunk);
  });
  const match = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not get ready:\n${output}`)), timeoutMs);
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const found = output.match(ready);
      if (found) {
        clearTimeout(timer);
        resolve(found);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}:\n${output}`));
    });
  });
  return { child, log, match };
}

/** A `silta dev` process on free loopback ports with its own data directory. */
export class Server {
  /**
   * @param {{env?: Record<string, string>, keepLog?: boolean}} [options] further settings (e.g. a
   *   cluster's); `keepLog` keeps everything the server writes (`fullLog()`), not only its tail
   */
  static async start({ env = {}, keepLog = false } = {}) {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'silta-browser-'));
    const { child, log, match } = await launchSilta(['dev'], {
      SILTA_DATA_DIR: dataDir,
      // The apps of this checkout, whichever checkout built the binary.
      SILTA_WEB__ROOT: path.join(repository, 'web'),
      SILTA_SIGNAL__BIND: '127.0.0.1:0',
      SILTA_SFU__BIND: '127.0.0.1:0',
      SILTA_LOG__FILTER: process.env.SILTA_TEST_LOG ?? 'warn',
      ...env,
    }, /Health\s+(http:\/\/[^/\s]+)\/healthz/, 'silta dev', 30_000, keepLog);
    const base = match[1];
    const server = new Server(child, base, dataDir);
    server.log = log;
    return server;
  }

  /** @param {import('node:child_process').ChildProcess} child @param {string} base @param {string} dataDir */
  constructor(child, base, dataDir) {
    this.child = child;
    this.base = base;
    this.dataDir = dataDir;
    /** What the server logged (the last 200 kB), for a failing test to show. */
    this.log = { text: '' };
    this.port = Number(new URL(base).port);
  }

  /** Everything the server wrote to stdout and stderr (with `keepLog`). */
  fullLog() {
    return Buffer.concat(this.log.all ?? []);
  }

  /** A demo identity's access token. @param {string} subject */
  async token(subject) {
    const response = await fetch(`${this.base}/dev/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ subject }),
    });
    assert(response.ok, `token for ${subject}: HTTP ${response.status}`);
    return (await response.json()).access_token;
  }

  /** A booking API call as a demo identity. */
  async api(subject, method, apiPath, body) {
    const response = await fetch(`${this.base}/api/v1${apiPath}`, {
      method,
      headers: { authorization: `Bearer ${await this.token(subject)}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    assert(response.ok, `${method} ${apiPath}: HTTP ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  async stop() {
    this.child.kill('SIGTERM');
    await new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        resolve();
      }, 5000);
      this.child.on('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/**
 * A TCP proxy in front of the server whose "cable" the test can pull:
 * `cut()` destroys every connection and refuses new ones until `restore()`.
 */
export class CablePull {
  /** @param {number} targetPort */
  static async start(targetPort) {
    const proxy = new CablePull(targetPort);
    await new Promise((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    proxy.port = /** @type {net.AddressInfo} */ (proxy.server.address()).port;
    return proxy;
  }

  constructor(targetPort) {
    this.targetPort = targetPort;
    this.connected = true;
    /** @type {Set<net.Socket>} */
    this.sockets = new Set();
    this.server = net.createServer((client) => {
      if (!this.connected) {
        client.destroy();
        return;
      }
      const upstream = net.connect(this.targetPort, '127.0.0.1');
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    this.port = 0;
  }

  cut() {
    this.connected = false;
    for (const socket of this.sockets) socket.destroy();
  }

  restore() {
    this.connected = true;
  }

  close() {
    this.cut();
    this.server.close();
  }
}

/**
 * A UDP port of a page's peer connection, from its selected candidate pair:
 * the page's own (`local`) or the media server's it is up with (`remote`);
 * null before the pair is selected.
 * @param {import('playwright-core').Page} page
 * @param {'local' | 'remote'} [side]
 */
export function mediaPort(page, side = 'local') {
  return page.evaluate(async (remote) => {
    const report = await window.siltaApp.session.media.pc.getStats();
    let pair = null;
    report.forEach((entry) => {
      if (entry.type === 'candidate-pair' && entry.nominated && entry.state === 'succeeded') pair = entry;
    });
    return pair ? report.get(remote ? pair.remoteCandidateId : pair.localCandidateId)?.port ?? null : null;
  }, side === 'remote');
}

/**
 * Blackholes every loopback packet from or to the given UDP and TCP ports,
 * as if that peer's link went silent: nothing is closed or refused, packets
 * just vanish (what a rural link or a Wi-Fi dropout does). `tc` on `lo` of
 * the test's own network namespace classifies them into an HTB class of
 * 8 bit/s with a one-packet queue (the kernel here has no drop action).
 * `restore()` lifts it.
 * @param {{udp?: number[], tcp?: number[]}} ports
 */
export function blackhole({ udp = [], tcp = [] }) {
  tc('qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'htb', 'default', '10');
  dropClasses(1);
  const rules = [...udp.map((port) => ['17', port]), ...tcp.map((port) => ['6', port])];
  for (const [protocol, port] of rules) {
    for (const direction of ['sport', 'dport']) {
      tc('filter', 'add', 'dev', 'lo', 'parent', '1:', 'protocol', 'ip', 'prio', '1', 'u32',
        'match', 'ip', 'protocol', protocol, '0xff', 'match', 'ip', direction, String(port), '0xffff', 'flowid', '1:20');
    }
  }
  return {
    restore() {
      tc('qdisc', 'del', 'dev', 'lo', 'root');
    },
  };
}

/**
 * Runs `tc` (in the test's own namespace); throws with its complaint.
 * @param {...string} args
 */
function tc(...args) {
  const result = spawnSync('tc', args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`tc ${args.join(' ')}: ${result.stderr || result.error}`);
  return result.stdout;
}

/**
 * Under the root HTB of `lo`: class 1:10 passes everything (the default),
 * class 1:20 drops — 8 bit/s with a queue of `queue` packets (0: from the
 * first packet on; 1 lets the first few through).
 * @param {number} queue
 */
function dropClasses(queue) {
  tc('class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '10gbit');
  tc('class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:20', 'htb', 'rate', '8bit', 'ceil', '8bit');
  tc('qdisc', 'add', 'dev', 'lo', 'parent', '1:20', 'handle', '20:', 'pfifo', 'limit', String(queue));
}

/**
 * Blackholes every loopback datagram from or to a UDP port.
 * @param {number} port
 */
export function dropUdpPort(port) {
  return blackhole({ udp: [port] });
}

/**
 * The session descriptions of a page's call: sizes in bytes, the number
 * of m-lines and the codecs named (local and remote).
 * @param {import('playwright-core').Page} page
 */
export function sdpSize(page) {
  return page.evaluate(() => {
    const pc = window.siltaApp?.session?.media?.pc;
    const measure = (description) => {
      const sdp = description?.sdp ?? '';
      const codecs = [...new Set([...sdp.matchAll(/^a=rtpmap:\d+ ([^/\r\n]+)/gm)].map((match) => match[1]))].sort();
      return { bytes: sdp.length, mlines: (sdp.match(/^m=/gm) ?? []).length, codecs };
    };
    return { local: measure(pc?.currentLocalDescription), remote: measure(pc?.currentRemoteDescription) };
  });
}

/**
 * The page joined its call in one round: its offer's answer brought the
 * others' media, with no offer from the media node after it (the peer
 * connection's last remote description is still that answer).
 * @param {import('playwright-core').Page} page
 * @param {string} who
 */
export async function assertJoinedInOneRound(page, who) {
  const type = await page.evaluate(() => window.siltaApp?.session?.media?.pc.currentRemoteDescription?.type ?? null);
  assert(type === 'answer', `${who}'s media took a second round: its last remote description is ${type === null ? 'missing' : `an ${type}`}`);
}

/**
 * Runs in the page before its scripts: every RTCPeerConnection keeps only
 * the TURN URLs of `transport` and relays (`iceTransportPolicy: 'relay'`).
 * @param {string} transport udp | tcp | tls
 */
function forceRelay(transport) {
  const Native = window.RTCPeerConnection;
  const wanted = (url) => (transport === 'tls' ? url.startsWith('turns:') : url.startsWith('turn:') && url.includes(`transport=${transport}`));
  window.RTCPeerConnection = class extends Native {
    constructor(config = {}, ...rest) {
      const iceServers = (config.iceServers ?? [])
        .map((server) => ({ ...server, urls: [server.urls].flat().filter(wanted) }))
        .filter((server) => server.urls.length > 0);
      super({ ...config, iceServers, iceTransportPolicy: 'relay' }, ...rest);
    }
  };
}

/**
 * The path a page's call takes, from its selected candidate pair: the
 * local candidate's type (`host`, `srflx`, `relay`), the TURN transport of
 * a relay candidate (`udp`, `tcp`, `tls`), its address and port, and the
 * media server's port; null before a pair is selected.
 * @param {import('playwright-core').Page} page
 */
export function mediaPath(page) {
  return page.evaluate(async () => {
    const pc = window.siltaApp?.session?.media?.pc;
    if (!pc) return null;
    const report = await pc.getStats();
    let pair = null;
    report.forEach((entry) => {
      if (entry.type === 'candidate-pair' && entry.nominated && entry.state === 'succeeded') pair = entry;
    });
    if (!pair) return null;
    const local = report.get(pair.localCandidateId);
    const remote = report.get(pair.remoteCandidateId);
    return {
      type: local?.candidateType,
      relayProtocol: local?.relayProtocol ?? null,
      address: local?.address,
      port: local?.port,
      remotePort: remote?.port,
      rttMs: pair.currentRoundTripTime != null ? pair.currentRoundTripTime * 1000 : null,
    };
  });
}

/**
 * The relay ports the test coturn allocates from (64: one tc mask), below
 * the kernel's ephemeral range (32768–60999 by default): a browser's own
 * UDP socket landing in it would pass the filters as relayed traffic (seen
 * once: turn-fallback's kiosk on 49168 went straight to the media server).
 */
export const RELAY_PORTS = { min: 28672, max: 28735 };

/**
 * coturn (Debian's turnserver) on loopback with a REST-API shared secret,
 * as a deployment runs it: TURN over UDP and TCP on a free port and TURN
 * over TLS on 443 with a self-signed certificate. Its log is kept.
 */
export class Coturn {
  static async start() {
    const dir = mkdtempSync(path.join(tmpdir(), 'silta-coturn-'));
    const [cert, key] = [path.join(dir, 'cert.pem'), path.join(dir, 'key.pem')];
    const openssl = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { encoding: 'utf8' });
    if (openssl.status !== 0) throw new Error(`openssl: ${openssl.stderr}`);
    const spki = spawnSync('sh', ['-c', `openssl x509 -in '${cert}' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`], { encoding: 'utf8' });
    if (spki.status !== 0) throw new Error(`openssl: ${spki.stderr}`);
    const secret = randomBytes(24).toString('hex');
    const port = await freePort();
    const child = spawn('/usr/bin/turnserver', [
      '-n', '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', `--listening-port=${port}`, '--tls-listening-port=443',
      `--min-port=${RELAY_PORTS.min}`, `--max-port=${RELAY_PORTS.max}`, '--use-auth-secret', `--static-auth-secret=${secret}`,
      '--realm=silta.test', `--cert=${cert}`, `--pkey=${key}`, '--no-tlsv1', '--no-tlsv1_1', '--no-dtls', '--fingerprint',
      // As deploy/ configures it: relay to the media server alone (every
      // address denied, its own allowed; here loopback) and no TCP relaying.
      '--denied-peer-ip=0.0.0.0-255.255.255.255', '--allowed-peer-ip=127.0.0.1', '--no-tcp-relay',
      '--allow-loopback-peers', '--no-multicast-peers', '--no-cli', `--pidfile=${path.join(dir, 'turnserver.pid')}`,
      '--log-file=stdout', '--simple-log', '--verbose',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    const turn = new Coturn(child, dir, port, secret, spki.stdout.trim());
    for (const stream of [child.stdout, child.stderr]) stream.on('data', (chunk) => { turn.log = (turn.log + chunk).slice(-400_000); });
    try {
      for (const listening of [port, 443]) {
        await eventually(() => new Promise((resolve) => {
          const socket = net.connect(listening, '127.0.0.1', () => { socket.destroy(); resolve(true); });
          socket.on('error', () => resolve(false));
        }), `coturn to listen on ${listening}`, 10_000);
      }
    } catch (error) {
      await turn.stop();
      throw new Error(`${error instanceof Error ? error.message : error}\n${turn.log}`);
    }
    return turn;
  }

  /**
   * @param {import('node:child_process').ChildProcess} child @param {string} dir @param {number} port
   * @param {string} secret @param {string} spki the base64 SHA-256 of its certificate's public key
   */
  constructor(child, dir, port, secret, spki) {
    this.child = child;
    this.dir = dir;
    this.port = port;
    this.secret = secret;
    this.spki = spki;
    this.log = '';
  }

  /** The settings that make `silta dev` hand out this relay's credentials. */
  get env() {
    const urls = [`turn:127.0.0.1:${this.port}?transport=udp`, `turn:127.0.0.1:${this.port}?transport=tcp`, 'turns:127.0.0.1:443?transport=tcp'];
    return { SILTA_SIGNAL__TURN__URLS: JSON.stringify(urls), SILTA_SIGNAL__TURN__SHARED_SECRET: this.secret };
  }

  async stop() {
    this.child.kill('SIGTERM');
    await new Promise((resolve) => {
      if (this.child.exitCode !== null) return resolve();
      const timer = setTimeout(() => { this.child.kill('SIGKILL'); resolve(); }, 3000);
      this.child.on('exit', () => { clearTimeout(timer); resolve(); });
    });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Watches (and optionally shapes) loopback traffic with `tc` in the test's
 * own namespace: counts the media server's datagrams to coturn's relay
 * ports (what the SFU sends to a relayed peer), and with `onlyTls443` lets
 * only TCP to the TURN server's TLS port through, as in a ministry network
 * that allows outbound 443 alone: datagrams to the media server's port
 * (except coturn's relayed ones) and to the TURN server's UDP and TCP port
 * vanish. `restore()` lifts it.
 * @param {{sfuPort: number, turnPort?: number, onlyTls443?: boolean}} options
 */
export function loopbackPaths({ sfuPort, turnPort = 0, onlyTls443 = false }) {
  tc('qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'htb', 'default', '10');
  try {
    shapeLoopback({ sfuPort, turnPort, onlyTls443 });
  } catch (error) {
    tc('qdisc', 'del', 'dev', 'lo', 'root');
    throw error;
  }
  return {
    /** Datagrams the media server has sent to coturn's relay ports. */
    sfuToRelayPackets() {
      const stats = tc('-s', 'class', 'show', 'dev', 'lo', 'classid', '1:30');
      return Number(stats.match(/Sent \d+ bytes (\d+) pkt/)?.[1] ?? 0);
    },
    restore() {
      tc('qdisc', 'del', 'dev', 'lo', 'root');
    },
  };
}

/** The classes and filters of {@link loopbackPaths}. */
function shapeLoopback({ sfuPort, turnPort, onlyTls443 }) {
  // Dropped from the first packet on: a fresh TURN allocation gets nothing
  // through.
  dropClasses(0);
  tc('class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:30', 'htb', 'rate', '10gbit');
  const relayMask = `0x${(0xffff & ~(RELAY_PORTS.max - RELAY_PORTS.min)).toString(16)}`;
  const udp = ['match', 'ip', 'protocol', '17', '0xff'];
  // Counted: the media server's datagrams to a relay port.
  tc('filter', 'add', 'dev', 'lo', 'parent', '1:', 'protocol', 'ip', 'prio', '1', 'u32', ...udp,
    'match', 'ip', 'sport', String(sfuPort), '0xffff', 'match', 'ip', 'dport', String(RELAY_PORTS.min), relayMask, 'flowid', '1:30');
  if (onlyTls443) {
    // coturn's relayed datagrams pass (sport in RELAY_PORTS) ...
    tc('filter', 'add', 'dev', 'lo', 'parent', '1:', 'protocol', 'ip', 'prio', '2', 'u32', ...udp,
      'match', 'ip', 'sport', String(RELAY_PORTS.min), relayMask, 'flowid', '1:10');
    // ... everything else to the media server's UDP port, and to the TURN
    // server's UDP and TCP port, vanishes.
    for (const [protocol, port] of [['17', sfuPort], ['17', turnPort], ['6', turnPort]]) {
      tc('filter', 'add', 'dev', 'lo', 'parent', '1:', 'protocol', 'ip', 'prio', '3', 'u32',
        'match', 'ip', 'protocol', protocol, '0xff', 'match', 'ip', 'dport', String(port), '0xffff', 'flowid', '1:20');
    }
  }
}

/** A UDP port nothing is bound to now. */
export function freeUdpPort() {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

/** One Chromium for a test; one context per person. */
export class Browser {
  /**
   * @param {{relayOnly?: 'udp' | 'tcp' | 'tls', trustSpki?: string, devices?: boolean}} [options]
   *   `relayOnly`: every page's peer connections use only the TURN server's
   *   URL of that transport, with `iceTransportPolicy: 'relay'` (a network
   *   that allows nothing else); `trustSpki`: the base64 SHA-256 of a test
   *   server's public key, whose self-signed certificate is then accepted;
   *   `devices: false`: no (fake) camera or microphone at all
   */
  static async launch({ relayOnly, trustSpki, devices = true } = {}) {
    // A test server's self-signed certificate is trusted by its key alone
    // (TURN over TLS checks certificates like HTTPS); every other stays
    // checked as usual. Without fake devices, a headless Chromium has no
    // camera and no microphone at all (a kiosk whose devices are unplugged).
    let args = trustSpki ? [...CHROMIUM_ARGS, `--ignore-certificate-errors-spki-list=${trustSpki}`] : CHROMIUM_ARGS;
    if (!devices) args = args.filter((arg) => !arg.startsWith('--use-fake-device-for-media-stream'));
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args, headless: true });
    return new Browser(browser, relayOnly);
  }

  /** @param {import('playwright-core').Browser} browser @param {string} [relayOnly] */
  constructor(browser, relayOnly) {
    this.browser = browser;
    this.relayOnly = relayOnly;
    /** @type {Array<{name: string, page: import('playwright-core').Page, errors: string[]}>} */
    this.pages = [];
  }

  /** A new person's window. @param {string} name */
  async page(name) {
    const context = await this.browser.newContext({ viewport: { width: 1024, height: 640 }, locale: 'fi-FI' });
    await context.grantPermissions(['camera', 'microphone']);
    if (this.relayOnly) await context.addInitScript(forceRelay, this.relayOnly);
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (error) => errors.push(`${name}: ${error.message}`));
    page.on('console', (message) => {
      if (process.env.SILTA_TEST_CONSOLE) console.log(`  [${name}] ${message.type()}: ${message.text()}`);
    });
    this.pages.push({ name, page, errors });
    return page;
  }

  /** Uncaught page errors so far. */
  errors() {
    return this.pages.flatMap((entry) => entry.errors);
  }

  async close() {
    await this.browser.close();
  }
}

/**
 * Opens the kiosk app provisioned as a demo kiosk (through `origin`, e.g.
 * a CablePull proxy).
 * @param {import('playwright-core').Page} page
 * @param {string} origin
 * @param {string} kiosk
 * @param {string} [language]
 */
export async function openKiosk(page, origin, kiosk, language = 'fi') {
  await page.goto(`${origin}/kiosk/?lang=${language}`);
  await page.evaluate(async (subject) => {
    const response = await fetch('/dev/device-credential', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ subject }),
    });
    localStorage.setItem('silta.kiosk.deviceCredential', (await response.json()).credential);
  }, kiosk);
  await page.goto(`${origin}/kiosk/?lang=${language}`);
  await page.locator('#screen-idle').waitFor({ state: 'visible' });
}

/**
 * Opens a staff app as a demo identity.
 * @param {import('playwright-core').Page} page
 * @param {string} origin
 * @param {string} app advisor | expert | interpreter | admin
 * @param {string} subject
 * @param {string} [language]
 */
export async function openStaff(page, origin, app, subject, language = 'fi') {
  await page.goto(`${origin}/${app}/?as=${encodeURIComponent(subject)}&lang=${language}`);
  await page.locator('#app').waitFor({ state: 'visible' });
  await eventually(() => page.evaluate(() => window.siltaApp?.client?.state === 'connected'), `${subject} connected`);
}

/** Every axe violation found, by page and state. */
export const accessibilityFindings = [];

/**
 * Runs axe-core (WCAG 2.0/2.1 A and AA) on the page as it is now.
 * @param {import('playwright-core').Page} page
 * @param {string} label
 */
export async function checkAccessibility(page, label) {
  const hasAxe = await page.evaluate(() => typeof window.axe !== 'undefined');
  if (!hasAxe) await page.evaluate(axeSource);
  const result = await page.evaluate(() =>
    window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }),
  );
  for (const violation of result.violations) {
    accessibilityFindings.push(
      `${label}: ${violation.id} (${violation.impact}) – ${violation.help}: ${violation.nodes.map((node) => node.target.join(' ')).slice(0, 3).join(', ')}`,
    );
  }
  return result.violations.length;
}

/**
 * Saves a screenshot (tests/browser/screenshots/<name>.png) and checks the
 * page's accessibility in the same state.
 * @param {import('playwright-core').Page} page
 * @param {string} name
 */
export async function capture(page, name) {
  mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`), fullPage: true });
  await checkAccessibility(page, name);
}

/**
 * Inbound media counters of a page's call: video frames decoded and audio
 * packets received, in total and per remote participant.
 * @param {import('playwright-core').Page} page
 */
export function mediaCounters(page) {
  return page.evaluate(async () => {
    const media = window.siltaApp?.session?.media;
    if (!media) return null;
    const byTrack = new Map();
    for (const [participant, stream] of media.remote) {
      for (const track of stream.getTracks()) byTrack.set(track.id, participant);
    }
    const report = await media.pc.getStats();
    const result = { framesDecoded: 0, audioPackets: 0, audioSamples: 0, participants: {} };
    report.forEach((entry) => {
      if (entry.type !== 'inbound-rtp') return;
      const participant = byTrack.get(entry.trackIdentifier) ?? 'unknown';
      result.participants[participant] ??= { framesDecoded: 0, audioPackets: 0, video: [] };
      if (entry.kind === 'video') {
        result.participants[participant].video.push({
          mid: entry.mid, packets: entry.packetsReceived, frames: entry.framesReceived, keyframes: entry.keyFramesDecoded, pli: entry.pliCount, nack: entry.nackCount, lost: entry.packetsLost,
        });
        result.framesDecoded += entry.framesDecoded ?? 0;
        result.participants[participant].framesDecoded += entry.framesDecoded ?? 0;
      } else if (entry.kind === 'audio') {
        result.audioPackets += entry.packetsReceived ?? 0;
        result.audioSamples += entry.totalSamplesReceived ?? 0;
        result.participants[participant].audioPackets += entry.packetsReceived ?? 0;
      }
    });
    return result;
  });
}

/**
 * How long, on average, each remote participant's video frames and audio
 * samples waited in the page's jitter buffers over `ms` (ms per frame or
 * sample, from getStats' `jitterBufferDelay` / `jitterBufferEmittedCount`):
 * what the page adds to each stream's delay (audio/video sync included),
 * keyed by participant id.
 * @param {import('playwright-core').Page} page @param {number} [ms]
 * @returns {Promise<{video: Record<string, number>, audio: Record<string, number>}>}
 */
export async function bufferDelays(page, ms = 1500) {
  const sample = () =>
    page.evaluate(async () => {
      const media = window.siltaApp?.session?.media;
      /** @type {Record<string, [number, number]>} keyed "kind participant" */
      const result = {};
      if (!media) return result;
      const byTrack = new Map();
      for (const [participant, stream] of media.remote) {
        for (const track of stream.getTracks()) byTrack.set(track.id, participant);
      }
      (await media.pc.getStats()).forEach((entry) => {
        if (entry.type !== 'inbound-rtp') return;
        const key = `${entry.kind} ${byTrack.get(entry.trackIdentifier) ?? 'unknown'}`;
        const [delay, count] = result[key] ?? [0, 0];
        result[key] = [delay + (entry.jitterBufferDelay ?? 0), count + (entry.jitterBufferEmittedCount ?? 0)];
      });
      return result;
    });
  const before = await sample();
  await sleep(ms);
  const after = await sample();
  /** @type {{video: Record<string, number>, audio: Record<string, number>}} */
  const delays = { video: {}, audio: {} };
  for (const [key, [delay, count]] of Object.entries(after)) {
    const [kind, participant] = key.split(' ');
    const [delay0, count0] = before[key] ?? [0, 0];
    if ((kind === 'video' || kind === 'audio') && count > count0) {
      delays[kind][participant] = Math.round(((delay - delay0) / (count - count0)) * 1000);
    }
  }
  return delays;
}

/** The participant ids of a page's room by role. @param {import('playwright-core').Page} page */
export function participantsByRole(page) {
  return page.evaluate(() => {
    const session = window.siltaApp?.session;
    const result = {};
    for (const info of session?.participants.values() ?? []) (result[info.role] ??= []).push(info.participant);
    return result;
  });
}

/**
 * Asserts that a page decodes video and receives audio from `roles` (all
 * remote participants with those roles): both counters rise.
 * @param {import('playwright-core').Page} page
 * @param {string} who
 * @param {string[]} roles
 */
export async function assertMediaFlows(page, who, roles) {
  for (const role of roles) {
    const ids = await eventually(async () => {
      const all = await participantsByRole(page);
      return (all[role] ?? []).length > 0 ? all : null;
    }, `${who} to see a ${role} in the room`);
    for (const participant of ids[role]) {
      let seen = null;
      const first = await eventually(async () => {
        const counters = await mediaCounters(page);
        seen = counters;
        const entry = counters?.participants[participant];
        return entry && entry.framesDecoded > 0 && entry.audioPackets > 0 ? entry : null;
      }, `${who} to decode video and receive audio from the ${role}`, 20_000).catch((error) => {
        throw new AssertionError(`${error.message}; counters by participant: ${JSON.stringify(seen)}; ${role} is ${participant}`);
      });
      await eventually(async () => {
        const counters = await mediaCounters(page);
        const entry = counters?.participants[participant];
        return entry && entry.framesDecoded > first.framesDecoded + 5 && entry.audioPackets > first.audioPackets + 10;
      }, `${who}'s video frames and audio packets from the ${role} to keep rising`, 10_000);
    }
  }
}

/**
 * Starts sampling, inside the page, a frame counter as often as getStats
 * answers: with a participant id, the frames decoded from that remote
 * participant's camera; without, the frames of the page's own camera source
 * (what the sender captured). `stop()` returns `maxStill`, the longest span
 * between two samples that read the same count (the video stood still at
 * least that long, whatever the sampling delay), and `maxGap`, the longest
 * span between two samples whose count rose (an upper bound that includes
 * the sampler's own lateness on a loaded machine).
 * @param {import('playwright-core').Page} page
 * @param {string | null} participant
 */
export async function startFrameWatch(page, participant) {
  await page.evaluate((target) => {
    const watch = { running: true, samples: 0, lastIncrease: 0, maxGap: 0, maxStill: 0, lastCount: -1, gaps: [], lastSample: 0, maxSampleInterval: 0 };
    window.__frameWatch = watch;
    (async () => {
      while (watch.running) {
        const media = window.siltaApp?.session?.media;
        const track = target ? media?.remote.get(target)?.getVideoTracks()[0] : media?.cameraSender?.track;
        if (media && track) {
          const report = await media.pc.getStats(track);
          let frames = 0;
          report.forEach((entry) => {
            if (target && entry.type === 'inbound-rtp' && entry.kind === 'video') frames = Math.max(frames, entry.framesDecoded ?? 0);
            if (!target && entry.type === 'media-source' && entry.kind === 'video') frames = Math.max(frames, entry.frames ?? 0);
          });
          const now = performance.now();
          if (watch.lastSample) watch.maxSampleInterval = Math.max(watch.maxSampleInterval, now - watch.lastSample);
          watch.lastSample = now;
          watch.samples += 1;
          if (frames > watch.lastCount) {
            if (watch.lastCount >= 0) {
              const gap = now - watch.lastIncrease;
              if (gap > watch.maxGap) watch.maxGap = gap;
              if (gap > 100) watch.gaps.push(Math.round(gap));
            }
            watch.lastCount = frames;
            watch.lastIncrease = now;
          } else {
            watch.maxStill = Math.max(watch.maxStill, now - watch.lastIncrease);
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
  }, participant);
  return {
    async stop() {
      return page.evaluate(() => {
        const watch = window.__frameWatch;
        watch.running = false;
        return { maxStill: Math.round(watch.maxStill), maxGap: Math.round(watch.maxGap), samples: watch.samples, frames: watch.lastCount, gaps: watch.gaps, maxSampleInterval: Math.round(watch.maxSampleInterval) };
      });
    },
  };
}

/**
 * An OpenTelemetry collector's OTLP/gRPC endpoint that keeps the raw bytes
 * of every export (spans and metrics, protobuf, uncompressed), so a test
 * can check what left the process: HTTP/2 without TLS, as tonic speaks to
 * an http:// endpoint, each call answered with an empty response.
 */
export class OtlpSink {
  static async start() {
    const sink = new OtlpSink();
    await new Promise((resolve) => sink.server.listen(0, '127.0.0.1', () => resolve(undefined)));
    return sink;
  }

  constructor() {
    /** @type {Buffer[]} */
    this.chunks = [];
    /** The gRPC methods called, e.g. the trace service's Export. @type {Set<string>} */
    this.methods = new Set();
    this.server = http2.createServer();
    this.server.on('stream', (stream, headers) => {
      this.methods.add(String(headers[':path']));
      stream.on('data', (chunk) => this.chunks.push(chunk));
      stream.on('end', () => {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(Buffer.alloc(5));
      });
      stream.on('error', () => {});
    });
  }

  get endpoint() {
    const { port } = /** @type {net.AddressInfo} */ (this.server.address());
    return `http://127.0.0.1:${port}`;
  }

  /** Everything exported so far. */
  bytes() {
    return Buffer.concat(this.chunks);
  }

  /** Whether spans were exported. */
  receivedSpans() {
    return [...this.methods].some((method) => method.includes('TraceService/Export'));
  }

  close() {
    return new Promise((resolve) => this.server.close(() => resolve(undefined)));
  }
}

/** A free loopback TCP port. */
async function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {net.AddressInfo} */ (probe.address());
      probe.close(() => resolve(port));
    });
  });
}

/** Ends a child process: `signal`, then SIGKILL after 5 s; resolves when it exited. */
function ended(child, signal = 'SIGTERM') {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

/**
 * A cluster's media side for `silta dev` to drive: a private nats-server
 * with JetStream (its own free port and store) and `silta sfu` nodes, each
 * on its own UDP port. Pass `env` to `Server.start` so `silta dev` places
 * its rooms on these nodes.
 */
export class MediaCluster {
  /** @param {string[]} names node ids */
  static async start(names) {
    const store = mkdtempSync(path.join(tmpdir(), 'silta-nats-'));
    const port = await freePort();
    const nats = spawn('/usr/sbin/nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', store], { stdio: 'ignore' });
    const cluster = new MediaCluster(nats, store, `nats://127.0.0.1:${port}`);
    try {
      await eventually(() => new Promise((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true); });
        socket.on('error', () => resolve(false));
      }), 'the private nats-server to listen', 10_000);
      for (const name of names) cluster.nodes.push(await cluster.startNode(name));
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** @param {import('node:child_process').ChildProcess} nats @param {string} store @param {string} url */
  constructor(nats, store, url) {
    this.nats = nats;
    this.store = store;
    this.natsUrl = url;
    /** @type {Array<{name: string, port: number, child: import('node:child_process').ChildProcess, log: {text: string}}>} */
    this.nodes = [];
  }

  /** The settings that make `silta dev` use this cluster's media nodes. */
  get env() {
    return { SILTA_CLUSTER__NATS_URL: this.natsUrl };
  }

  /** Starts one `silta sfu` and waits until it has registered. @param {string} name */
  async startNode(name) {
    const { child, log, match } = await launchSilta(['sfu'], {
      SILTA_CLUSTER__NATS_URL: this.natsUrl,
      SILTA_CLUSTER__NODE_ID: name,
      SILTA_SFU__BIND: '127.0.0.1:0',
      // Kept (not printed) for a failing test to show.
      SILTA_LOG__FILTER: process.env.SILTA_TEST_LOG ?? 'info',
    }, /serving media on udp:\/\/[^\s]*:(\d+)/, `silta sfu ${name}`, 20_000);
    const port = Number(match[1]);
    return { name, port, child, log };
  }

  /** The node serving media on a UDP port. @param {number | null} port */
  nodeAt(port) {
    return this.nodes.find((node) => node.port === port) ?? null;
  }

  /** `kill -9` a node: no goodbye, no draining. @param {string} name */
  kill(name) {
    const node = this.nodes.find((candidate) => candidate.name === name);
    assert(node, `no node ${name}`);
    node.child.kill('SIGKILL');
  }

  async stop() {
    await Promise.all(this.nodes.map((node) => ended(node.child)));
    await ended(this.nats);
    rmSync(this.store, { recursive: true, force: true });
  }
}
