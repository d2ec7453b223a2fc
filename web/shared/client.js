// The one signaling and media client every app uses.
//
// SignalClient: the WebSocket to /v1/signal — authentication, request/reply
// by id, events, reconnect with back-off and resume within the server's
// window (30 s), so a kiosk on a poor link comes back into the same call.
// A link that dies silently (packets dropped, the socket left open) is found
// by the client's own heartbeat: a `ping` every couple of seconds, and
// nothing heard for three of them means the socket is given up at once
// rather than when TCP gives up, minutes later.
//
// MediaSession: one RTCPeerConnection to the room's SFU node. The client
// offers its microphone and camera (simulcast) at the start, and a second
// video source (a document camera, a shared screen) when first shown; Opus
// and VP8 only, `preferredCodecs`. The SFU offers whenever other
// participants' tracks come or go. Remote tracks are grouped
// by their stream id, which the SFU sets to the publishing participant's id.
//
// ConnectionQuality: the good/fair/poor grades the server sends for each
// participant of a room, with one local override: one's own peer
// connection down means 'poor' at once.

import { QUALITY_GRADES } from '../types/vocabulary.js';

/** @typedef {'connecting' | 'connected' | 'reconnecting' | 'closed'} ConnectionState */

// The messages are typed from the wire schemas (web/types/wire.d.ts,
// generated from proto/v1/*.schema.json).

/** @typedef {import('../types/wire').ServerMessage} ServerMessage */
/** @typedef {import('../types/wire').ClientMessage} ClientMessage */

/**
 * The server's message of one `type`.
 * @template {ServerMessage['type']} T
 * @typedef {Extract<ServerMessage, {type: T}>} ServerMessageOf
 */

/** @typedef {ServerMessageOf<'welcome'>} Welcome */
/** @typedef {import('../types/wire').RoomState} RoomState */

/**
 * @template M
 * @typedef {M extends unknown ? Omit<M, 'id'> : never} WithoutId
 */

/** A request as the app writes it: `request` adds the id. @typedef {WithoutId<ClientMessage>} ClientRequest */

/**
 * The request of one `type`.
 * @template {ClientRequest['type']} T
 * @typedef {Extract<ClientRequest, {type: T}>} ClientRequestOf
 */

/**
 * The reply a request of one `type` gets, as the schema describes them:
 * `joined` to `session_open`, `join` and `call_accept`, `sdp_answer` to
 * `sdp_offer`, `ack` to the rest (an `error` rejects instead).
 * @template {ClientRequest['type']} T
 * @typedef {ServerMessageOf<T extends 'session_open' | 'join' | 'call_accept' ? 'joined' : T extends 'sdp_offer' ? 'sdp_answer' : T extends 'probe_offer' ? 'probe_answer' : T extends 'self_test_report' ? 'self_test_assessed' : 'ack'>} ReplyTo
 */

/** The types of the server's messages about one room (they name it in `room`). @typedef {Extract<ServerMessage, {room: string}>['type']} RoomMessageType */

/**
 * The server's message of one `type` about a room.
 * @template {RoomMessageType} T
 * @typedef {Extract<ServerMessage, {type: T, room: string}>} RoomMessageOf
 */

/** Retry delays; within the resume window retries come at least every second. */
const BACKOFF_MS = [250, 500, 1000, 2000, 3000, 5000];
/** The fastest retry while the session can still be resumed. */
const RESUMABLE_RETRY_MS = 1000;
/** A connection not welcomed within this is abandoned and tried again. */
const CONNECT_TIMEOUT_MS = 4000;
/** How often a request refused with `try_again` is sent, and the pause between (times the attempt). */
const TRY_AGAIN_ATTEMPTS = 5;
const TRY_AGAIN_PAUSE_MS = 500;
/** Heartbeats missed before the link counts as dead. */
const MISSED_HEARTBEATS = 3;

export class SignalError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

export class SignalClient extends EventTarget {
  /**
   * @param {import('./auth.js').TokenSource} tokens
   * @param {{url?: string}} [options]
   */
  constructor(tokens, options = {}) {
    super();
    this.tokens = tokens;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    this.url = options.url ?? `${scheme}//${location.host}/v1/signal`;
    /** @type {ConnectionState} */
    this.state = 'connecting';
    /** @type {Welcome | null} the latest `welcome` */
    this.welcome = null;
    /** @type {string | null} */
    this.resumeToken = null;
    /** @type {WebSocket | null} */
    this.socket = null;
    /** @type {Map<string, {resolve: (m: ServerMessage) => void, reject: (e: Error) => void}>} */
    this.pending = new Map();
    this.nextId = 1;
    this.attempt = 0;
    this.stopped = false;
    /** @type {number | undefined} */
    this.retryTimer = undefined;
    /** @type {((m: Welcome) => void) | null} */
    this.firstWelcome = null;
    /** When the latest socket opened and was welcomed (performance.now()). */
    this.timing = { opened: 0, welcomed: 0 };
    /** When anything last arrived from the server (performance.now()). */
    this.lastHeard = 0;
    /** When the current outage began (performance.now()), or null. */
    this.outageSince = /** @type {number | null} */ (null);
    /** @type {number | undefined} */
    this.heartbeatTimer = undefined;
    /** @type {number | undefined} */
    this.connectTimer = undefined;
  }

  /**
   * Connects and resolves with the first `welcome`.
   * @returns {Promise<Welcome>}
   */
  connect() {
    return new Promise((resolve, reject) => {
      this.firstWelcome = resolve;
      this.open().catch(reject);
    });
  }

  /** Stops for good (no reconnect). */
  close() {
    this.stopped = true;
    window.clearTimeout(this.retryTimer);
    window.clearTimeout(this.connectTimer);
    window.clearInterval(this.heartbeatTimer);
    this.socket?.close(1000, 'bye');
    this.setState('closed');
  }

  /**
   * Listens for one message type (events and `welcome`).
   * @template {ServerMessage['type']} T
   * @param {T} type
   * @param {(message: ServerMessageOf<T>) => void} handler
   */
  on(type, handler) {
    this.addEventListener(type, (event) => handler(/** @type {CustomEvent<ServerMessageOf<T>>} */ (event).detail));
  }

  /**
   * Sends a request and waits for its reply (`ack`, `joined`, `sdp_answer`);
   * an `error` reply rejects with a SignalError carrying its code.
   * @template {ClientRequest['type']} T
   * @param {ClientRequestOf<T>} message without `id`
   * @returns {Promise<ReplyTo<T>>}
   */
  async request(message) {
    // `try_again`: nothing was done while the room service changed over to
    // another signal node; the same request is sent again after a moment.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.requestOnce(message);
      } catch (error) {
        if (!(error instanceof SignalError) || error.code !== 'try_again' || attempt >= TRY_AGAIN_ATTEMPTS) throw error;
        await new Promise((resolve) => window.setTimeout(resolve, TRY_AGAIN_PAUSE_MS * attempt));
      }
    }
  }

  /**
   * @template {ClientRequest['type']} T
   * @param {ClientRequestOf<T>} message without `id`
   * @returns {Promise<ReplyTo<T>>}
   */
  requestOnce(message) {
    const id = `c${this.nextId++}`;
    return new Promise((resolve, reject) => {
      if (!this.socket || this.socket.readyState !== WebSocket.OPEN || this.state !== 'connected') {
        reject(new SignalError('disconnected', 'not connected to the signal service'));
        return;
      }
      // The reply to a request is the one the protocol gives it (ReplyTo).
      const settle = (/** @type {ServerMessage} */ reply) => resolve(/** @type {ReplyTo<T>} */ (reply));
      this.pending.set(id, { resolve: settle, reject });
      this.socket.send(JSON.stringify({ ...message, id }));
    });
  }

  /** @param {ConnectionState} state */
  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent('statechange', { detail: state }));
  }

  async open() {
    if (this.stopped) return;
    let token;
    try {
      token = await this.tokens.get();
    } catch (error) {
      this.dispatchEvent(new CustomEvent('autherror', { detail: error }));
      this.scheduleReconnect();
      return;
    }
    const socket = new WebSocket(this.url, ['silta.v1']);
    this.socket = socket;
    // A connection attempt into a dead link hangs until TCP gives up: abandon
    // it and try again, so the first attempt after the link returns gets in.
    window.clearTimeout(this.connectTimer);
    this.connectTimer = window.setTimeout(() => {
      if (this.socket === socket && this.state !== 'connected') this.abandon(socket, 'connect timeout');
    }, CONNECT_TIMEOUT_MS);
    socket.addEventListener('open', () => {
      this.timing.opened = performance.now();
      /** @type {Extract<ClientMessage, {type: 'auth'}>} */
      const auth = { type: 'auth', id: `auth${this.nextId++}`, token };
      if (this.resumeToken) auth.resume_token = this.resumeToken;
      socket.send(JSON.stringify(auth));
    });
    socket.addEventListener('message', (event) => this.receive(String(event.data)));
    socket.addEventListener('close', (event) => this.closed(socket, event));
  }

  /** @param {string} text */
  receive(text) {
    this.lastHeard = performance.now();
    /** @type {ServerMessage} */
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      console.warn('silta: unreadable message from the signal service');
      return;
    }
    if (message.type === 'welcome') {
      this.timing.welcomed = performance.now();
      window.clearTimeout(this.connectTimer);
      this.attempt = 0;
      this.outageSince = null;
      this.startHeartbeat(Number(message.heartbeat_interval_ms) || 2000);
      this.welcome = message;
      this.resumeToken = message.resume_token;
      this.setState('connected');
      if (this.firstWelcome) {
        this.firstWelcome(message);
        this.firstWelcome = null;
      }
      this.dispatchEvent(new CustomEvent('welcome', { detail: message }));
      return;
    }
    const id = 'id' in message ? message.id : null;
    const waiting = id ? this.pending.get(id) : undefined;
    if (waiting && id) {
      this.pending.delete(id);
      if (message.type === 'error') waiting.reject(new SignalError(message.code, message.message));
      else waiting.resolve(message);
      return;
    }
    if (message.type === 'error' && message.code === 'try_again' && this.socket) {
      // The session could not be attached while the room service changed
      // over: reconnect (and resume) as after any outage.
      this.abandon(this.socket, 'room service changing over');
      return;
    }
    if (message.type === 'error') {
      // An error for the auth message: the token was refused.
      this.dispatchEvent(new CustomEvent('autherror', { detail: new SignalError(message.code, message.message) }));
      return;
    }
    this.dispatchEvent(new CustomEvent(message.type, { detail: message }));
  }

  /**
   * Sends a `ping` every interval; when nothing at all has been heard for
   * three intervals the link is dead: the socket is given up and the
   * session resumed on a new one.
   * @param {number} interval
   */
  startHeartbeat(interval) {
    window.clearInterval(this.heartbeatTimer);
    this.lastHeard = performance.now();
    const socket = this.socket;
    this.heartbeatTimer = window.setInterval(() => {
      if (this.socket !== socket || !socket) {
        window.clearInterval(this.heartbeatTimer);
        return;
      }
      if (performance.now() - this.lastHeard > MISSED_HEARTBEATS * interval) {
        this.abandon(socket, 'no heartbeat');
        return;
      }
      if (socket.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify({ type: 'ping', id: `ping${this.nextId++}` }));
      }
    }, interval);
  }

  /**
   * Gives up a socket that cannot be trusted (silent link, hung connect)
   * without waiting for its close handshake, which a dead link never
   * completes, and reconnects.
   * @param {WebSocket} socket
   * @param {string} why
   */
  abandon(socket, why) {
    if (this.socket !== socket) return;
    // The outage began when the server was last heard, not now.
    if (this.outageSince === null && this.state === 'connected') this.outageSince = this.lastHeard;
    console.warn(`silta: the connection to the signal service is lost (${why}); reconnecting`);
    try {
      socket.close(4000, why);
    } catch {
      // Closing a socket that never opened can throw; it is abandoned anyway.
    }
    this.closed(socket, /** @type {CloseEvent} */ ({ code: 4000 }));
  }

  /** @param {WebSocket} socket @param {CloseEvent} event */
  closed(socket, event) {
    if (this.socket !== socket) return;
    this.socket = null;
    window.clearInterval(this.heartbeatTimer);
    window.clearTimeout(this.connectTimer);
    if (this.outageSince === null) this.outageSince = performance.now();
    for (const { reject } of this.pending.values()) reject(new SignalError('disconnected', 'the connection dropped'));
    this.pending.clear();
    if (this.stopped) return;
    if (event.code === 4002) {
      // This session continues on another connection (another tab or device).
      this.setState('closed');
      this.dispatchEvent(new CustomEvent('superseded'));
      return;
    }
    this.setState('reconnecting');
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    if (this.stopped) return;
    let delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    const window_ms = Number(this.welcome?.resume_window_ms) || 30_000;
    if (this.resumeToken && this.outageSince !== null && performance.now() - this.outageSince < window_ms) {
      // The session can still be resumed: every second counts.
      delay = Math.min(delay, RESUMABLE_RETRY_MS);
    }
    this.attempt += 1;
    window.clearTimeout(this.retryTimer);
    this.retryTimer = window.setTimeout(() => {
      this.open().catch(() => this.scheduleReconnect());
    }, delay);
  }
}

/**
 * @typedef {object} RemoteParticipantMedia
 * @property {string} participant
 * @property {MediaStream} stream
 */

/**
 * A message on the call channel.
 * @typedef {object} CallMessage
 * @property {string} from the sender's participant id (the SFU's word, not the sender's)
 * @property {Uint8Array} payload
 */

/** A bound on the participants whose media one asks for up front (the SFU's default `max_participants`). */
const MAX_ROOM_SIZE = 6;

/**
 * The codecs offered and accepted for `kind`: Opus for audio; VP8 and its
 * retransmission for video — what every browser sends and the SFU's
 * simulcast and layer switching are built for (so every page sends and
 * receives VP8, the second source too). A browser lists some twenty
 * video codecs by default (VP9, H.264 profiles, AV1, each with its
 * retransmission), which makes each m-line ~2 KB of SDP and each
 * `createOffer`/`setLocalDescription`/`setRemoteDescription` about twice
 * the work; narrowed, the join's negotiation takes about half as long.
 * null where the browser cannot narrow them or lacks the codec: its own
 * list then stands.
 * @param {'audio' | 'video'} kind
 * @returns {RTCRtpCodec[] | null}
 */
function preferredCodecs(kind) {
  if (!(kind in preferredCodecs.cache)) {
    const codecs = globalThis.RTCRtpReceiver?.getCapabilities?.(kind)?.codecs ?? [];
    const wanted = kind === 'audio' ? /^audio\/opus$/i : /^video\/(vp8|rtx)$/i;
    const kept = codecs.filter((codec) => wanted.test(codec.mimeType));
    const main = kind === 'audio' ? /opus/i : /vp8/i;
    preferredCodecs.cache[kind] = kept.some((codec) => main.test(codec.mimeType)) ? kept : null;
  }
  return preferredCodecs.cache[kind];
}
/** @type {Record<string, RTCRtpCodec[] | null>} */
preferredCodecs.cache = {};

/**
 * Narrows a transceiver's codecs to the preferred ones (once; a browser
 * that refuses keeps its own list).
 * @param {RTCRtpTransceiver} transceiver
 */
function narrowCodecs(transceiver) {
  if (narrowed.has(transceiver) || typeof transceiver.setCodecPreferences !== 'function') return;
  narrowed.add(transceiver);
  const kind = transceiver.receiver.track.kind;
  const codecs = kind === 'audio' || kind === 'video' ? preferredCodecs(kind) : null;
  if (!codecs) return;
  try {
    transceiver.setCodecPreferences(codecs);
  } catch (error) {
    console.warn('silta: the codecs could not be narrowed', error);
  }
}
/** @type {WeakSet<RTCRtpTransceiver>} */
const narrowed = new WeakSet();

/** The largest frame the SFU relays on the call channel (`MAX_CALL_MESSAGE`). */
export const MAX_CALL_MESSAGE = 64 * 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class MediaSession extends EventTarget {
  /**
   * @param {SignalClient} client
   * @param {string} room
   */
  constructor(client, room) {
    super();
    this.client = client;
    this.room = room;
    const turn = client.welcome?.turn;
    /** @type {RTCIceServer[]} */
    const iceServers = turn ? [{ urls: turn.urls, username: turn.username, credential: turn.credential }] : [];
    this.pc = new RTCPeerConnection({ iceServers, bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
    /** @type {Map<string, MediaStream>} remote media by participant */
    this.remote = new Map();
    /** @type {RTCRtpSender | null} */
    this.audioSender = null;
    /** @type {RTCRtpSender | null} */
    this.cameraSender = null;
    /** @type {RTCRtpSender | null} made when a second source is first shown */
    this.secondSender = null;
    /** @type {{maxWidth?: number}} how the second source is sent */
    this.secondOptions = {};
    /**
     * The call channel: a data channel to the SFU, which passes each
     * message to the room's other participants (all, or those named) with
     * the sender's participant id in front. Live text travels here: it
     * never reaches the signal service, a log or a database.
     */
    this.channel = this.pc.createDataChannel('silta', { ordered: true });
    this.channel.binaryType = 'arraybuffer';
    this.channel.addEventListener('open', () => this.dispatchEvent(new CustomEvent('channelopen')));
    this.channel.addEventListener('message', (event) => this.receiveCall(event.data));
    /** Negotiation steps run one at a time, in order. */
    this.chain = Promise.resolve();
    /** The microphone and camera are on (not muted by the person). */
    this.audioEnabled = true;
    this.videoEnabled = true;
    /** The camera is sent for motion (`preferFrameRate`). */
    this.motion = false;
    this.closed = false;
    /** @type {Array<() => void>} */
    this.unsubscribe = [];

    this.pc.addEventListener('icecandidate', (event) => {
      const candidate = event.candidate;
      this.send({
        type: 'ice_candidate',
        room: this.room,
        candidate: candidate
          ? { candidate: candidate.candidate, sdp_mid: candidate.sdpMid, sdp_m_line_index: candidate.sdpMLineIndex }
          : { candidate: '' },
      });
    });
    this.pc.addEventListener('track', (event) => this.addRemoteTrack(event));
    this.pc.addEventListener('connectionstatechange', () => {
      this.dispatchEvent(new CustomEvent('connectionstatechange', { detail: this.pc.connectionState }));
    });
    this.listen('sdp_offer', (message) => this.enqueue(() => this.answerOffer(message.sdp)));
    this.listen('ice_candidate', (message) => {
      const c = message.candidate;
      if (!c?.candidate) return;
      this.pc
        .addIceCandidate({ candidate: c.candidate, sdpMid: c.sdp_mid ?? null, sdpMLineIndex: c.sdp_m_line_index ?? null })
        .catch((error) => console.warn('silta: a remote candidate was refused', error));
    });
  }

  /**
   * @template {RoomMessageType} T
   * @param {T} type
   * @param {(message: RoomMessageOf<T>) => void} handler
   */
  listen(type, handler) {
    /** @param {Event} event */
    const listener = (event) => {
      const message = /** @type {CustomEvent<RoomMessageOf<T>>} */ (event).detail;
      if (message.room === this.room && !this.closed) handler(message);
    };
    this.client.addEventListener(type, listener);
    this.unsubscribe.push(() => this.client.removeEventListener(type, listener));
  }

  /** @param {ClientRequest} message */
  send(message) {
    this.client.request(message).catch((error) => {
      if (error.code !== 'disconnected') console.warn('silta:', message.type, 'failed:', error.code);
    });
  }

  /** @param {() => Promise<void>} step */
  enqueue(step) {
    const next = this.chain.then(step, step);
    this.chain = next.catch((error) => {
      console.warn('silta: negotiation step failed', error);
      this.dispatchEvent(new CustomEvent('error', { detail: error }));
    });
    return next;
  }

  /**
   * Publishes the local microphone and camera (camera with simulcast) and
   * connects to the SFU. `others` is how many participants are in the room
   * already: the offer asks for their media (a microphone and a camera
   * each) on receive-only lines, which the SFU fills in its answer, so the
   * call starts in one round. More participants than guessed, or a second
   * source one of them is showing, cost one renegotiation; fewer cost one
   * to set the spare lines inactive; neither loses media.
   * @param {MediaStream | null} local
   * @param {{simulcast?: boolean, others?: number}} [options]
   */
  start(local, options = {}) {
    const audio = local?.getAudioTracks()[0] ?? null;
    const video = local?.getVideoTracks()[0] ?? null;
    this.audioSender = this.pc.addTransceiver(audio ?? 'audio', { direction: 'sendonly', streams: local ? [local] : [] }).sender;
    /** @type {RTCRtpEncodingParameters[] | undefined} */
    const encodings =
      options.simulcast === false
        ? undefined
        : [
            { rid: 'l', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
            { rid: 'm', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
            { rid: 'h', scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
          ];
    this.cameraSender = this.pc.addTransceiver(video ?? 'video', {
      direction: 'sendonly',
      streams: local ? [local] : [],
      sendEncodings: encodings,
    }).sender;
    // A second source (document camera, screen) gets its line when first
    // shown (`setSecondSource`): a line in every join's offer would cost
    // each negotiation of the call its share of SDP work for a source most
    // calls never use.
    for (let other = 0; other < Math.min(options.others ?? 0, MAX_ROOM_SIZE - 1); other += 1) {
      this.pc.addTransceiver('audio', { direction: 'recvonly' });
      this.pc.addTransceiver('video', { direction: 'recvonly' });
    }
    for (const transceiver of this.pc.getTransceivers()) narrowCodecs(transceiver);
    return this.enqueue(() => this.offer(false));
  }

  /** @param {boolean} iceRestart */
  async offer(iceRestart) {
    const offer = await this.pc.createOffer({ iceRestart });
    if (offer.sdp === undefined) throw new Error('the browser made an offer without a session description');
    await this.pc.setLocalDescription(offer);
    const reply = await this.client.request({ type: 'sdp_offer', room: this.room, sdp: offer.sdp });
    await this.pc.setRemoteDescription({ type: 'answer', sdp: reply.sdp });
  }

  /** @param {string} sdp */
  async answerOffer(sdp) {
    if (this.pc.signalingState !== 'stable') {
      await this.pc.setLocalDescription({ type: 'rollback' });
    }
    await this.pc.setRemoteDescription({ type: 'offer', sdp });
    // The lines the SFU's offer added answer with the preferred codecs too.
    for (const transceiver of this.pc.getTransceivers()) narrowCodecs(transceiver);
    const answer = await this.pc.createAnswer();
    if (answer.sdp === undefined) throw new Error('the browser made an answer without a session description');
    await this.pc.setLocalDescription(answer);
    await this.client.request({ type: 'sdp_answer', room: this.room, sdp: answer.sdp });
  }

  /** After a reconnect: a fresh ICE session if media was lost too. */
  restartIce() {
    return this.enqueue(() => this.offer(true));
  }

  /** @param {RTCTrackEvent} event */
  addRemoteTrack(event) {
    const participant = event.streams[0]?.id ?? 'unknown';
    let stream = this.remote.get(participant);
    if (!stream) {
      stream = new MediaStream();
      this.remote.set(participant, stream);
    }
    stream.addTrack(event.track);
    const track = event.track;
    const owner = stream;
    const removed = () => {
      owner.removeTrack(track);
      this.dispatchEvent(new CustomEvent('remotechange', { detail: { participant, stream: owner } }));
    };
    track.addEventListener('ended', removed);
    event.streams[0]?.addEventListener('removetrack', (e) => {
      if (e.track === track) removed();
    });
    this.dispatchEvent(new CustomEvent('remotechange', { detail: { participant, stream } }));
  }

  /**
   * Sends a message on the call channel to the room's other participants,
   * or only to those named; false when the channel is not open (yet, or
   * any more) or the message is too large.
   * @param {Uint8Array} payload
   * @param {string[]} [to] participant ids; none means everyone else
   */
  sendCall(payload, to = []) {
    if (this.channel.readyState !== 'open') return false;
    const names = to.map((participant) => encoder.encode(participant));
    if (names.length > 255 || names.some((name) => name.length === 0 || name.length > 255)) return false;
    const size = 1 + names.reduce((sum, name) => sum + 1 + name.length, 0) + payload.length;
    if (size > MAX_CALL_MESSAGE) return false;
    const frame = new Uint8Array(size);
    frame[0] = names.length;
    let at = 1;
    for (const name of names) {
      frame[at] = name.length;
      frame.set(name, at + 1);
      at += 1 + name.length;
    }
    frame.set(payload, at);
    this.channel.send(frame);
    return true;
  }

  /** @param {unknown} data a frame from the SFU: the sender's id, then the payload */
  receiveCall(data) {
    if (!(data instanceof ArrayBuffer) || data.byteLength < 1) return;
    const bytes = new Uint8Array(data);
    // An empty sender is the SFU itself (a document refused).
    const length = bytes[0];
    if (bytes.length < 1 + length) return;
    const from = decoder.decode(bytes.subarray(1, 1 + length));
    /** @type {CallMessage} */
    const detail = { from, payload: bytes.subarray(1 + length) };
    this.dispatchEvent(new CustomEvent('callmessage', { detail }));
  }

  /**
   * Puts a second video source (document camera, screen) on its sender;
   * null takes it off. The first time, the sender and its line are made
   * and offered (one renegotiation); later, the track is only replaced.
   * `maxWidth` sends it no wider than that: a document camera's whole
   * picture stays with the track (for stills), the call gets a video the
   * link and the kiosk's encoder can carry.
   * @param {MediaStreamTrack | null} track
   * @param {{maxWidth?: number}} [options]
   */
  async setSecondSource(track, options = {}) {
    if (this.closed) return;
    this.secondOptions = options;
    let sender = this.secondSender;
    if (!sender) {
      if (!track) return;
      const transceiver = this.pc.addTransceiver(track, { direction: 'sendonly' });
      narrowCodecs(transceiver);
      sender = this.secondSender = transceiver.sender;
      await this.enqueue(() => this.offer(false));
    } else {
      await sender.replaceTrack(track);
    }
    const width = track?.getSettings().width ?? 0;
    const parameters = sender.getParameters();
    if (!options.maxWidth || !parameters.encodings?.length) return;
    parameters.encodings[0].scaleResolutionDownBy = Math.max(1, width / options.maxWidth);
    await sender.setParameters(parameters).catch((error) => console.warn('silta: the second source could not be scaled', error));
  }

  /**
   * Sends the camera for motion (sign language): the encoder keeps its
   * frame rate and lowers resolution first when it must give way; or back
   * to the browser's balance. Runs after the negotiation in progress.
   * @param {boolean} prefer
   */
  preferFrameRate(prefer) {
    return this.enqueue(async () => {
      const sender = this.cameraSender;
      if (!sender || this.closed) return;
      const parameters = /** @type {RTCRtpSendParameters & {degradationPreference?: string}} */ (sender.getParameters());
      parameters.degradationPreference = prefer ? 'maintain-framerate' : 'balanced';
      await sender.setParameters(parameters);
      this.motion = prefer;
    });
  }

  /**
   * The microphone and camera opened after `start`: on the senders the
   * first offer made for them (no renegotiation), muted or not as chosen
   * meanwhile.
   * @param {MediaStream} local
   */
  async setLocal(local) {
    const audio = local.getAudioTracks()[0] ?? null;
    const video = local.getVideoTracks()[0] ?? null;
    if (audio) audio.enabled = this.audioEnabled;
    if (video) video.enabled = this.videoEnabled;
    await Promise.all([this.audioSender?.replaceTrack(audio), this.cameraSender?.replaceTrack(video)]);
  }

  /** @param {boolean} enabled */
  setAudioEnabled(enabled) {
    this.audioEnabled = enabled;
    const track = this.audioSender?.track;
    if (track) track.enabled = enabled;
  }

  /** @param {boolean} enabled */
  setVideoEnabled(enabled) {
    this.videoEnabled = enabled;
    const track = this.cameraSender?.track;
    if (track) track.enabled = enabled;
  }

  /**
   * Caps the bitrate this participant receives (the SFU picks simulcast
   * layers within it); null lifts the cap.
   * @param {number | null} bitsPerSecond
   */
  setReceiveLimit(bitsPerSecond) {
    /** @type {ClientRequestOf<'receive_limit'>} */
    const message = { type: 'receive_limit', room: this.room };
    if (bitsPerSecond !== null) message.max_bitrate_bps = bitsPerSecond;
    return this.client.request(message);
  }

  /**
   * Closes the connection; the camera and microphone stop too unless a new
   * connection takes them over (`media_moved`).
   * @param {{stopTracks?: boolean}} [options]
   */
  close({ stopTracks = true } = {}) {
    if (this.closed) return;
    this.closed = true;
    for (const stop of this.unsubscribe) stop();
    if (stopTracks) for (const transceiver of this.pc.getTransceivers()) transceiver.sender.track?.stop?.();
    this.pc.close();
    this.remote.clear();
  }
}

/** A grade the server sent, or 'unknown' before one has come. @typedef {import('../types/wire').QualityGrade | 'unknown'} QualityGrade */

/**
 * The connection quality of a room's participants as the signal service
 * grades it (`connection_quality`, from what the SFU measures of each
 * peer). One thing the server cannot see is one's own peer connection
 * failing: while it is disconnected or failed one's own grade is 'poor' at
 * once, and once it is connected again 'unknown' until the server grades it
 * anew. A `change` event names the participant whose grade changed.
 */
export class ConnectionQuality extends EventTarget {
  /**
   * @param {SignalClient} client
   * @param {string} room
   * @param {string | undefined} self one's own participant id
   * @param {RTCPeerConnection} pc one's own peer connection to the room
   */
  constructor(client, room, self, pc) {
    super();
    this.self = self;
    this.pc = pc;
    /** @type {Map<string, QualityGrade>} the server's latest grade of each participant */
    this.grades = new Map();
    /** @param {Event} event */
    const onQuality = (event) => {
      const message = /** @type {CustomEvent<ServerMessageOf<'connection_quality'>>} */ (event).detail;
      // The grade is checked too: one from a newer server may be unknown here.
      if (message.room !== room || !QUALITY_GRADES.includes(message.grade)) return;
      // A grade of one's own connection while it is down is not believed.
      if (message.participant === this.self && this.lost()) return;
      if (this.grades.get(message.participant) === message.grade) return;
      this.grades.set(message.participant, message.grade);
      this.changed(message.participant);
    };
    const onState = () => {
      if (this.lost()) this.grades.delete(this.self ?? '');
      this.changed(this.self ?? '');
    };
    client.addEventListener('connection_quality', onQuality);
    pc.addEventListener('connectionstatechange', onState);
    /** @type {Array<() => void>} */
    this.unsubscribe = [
      () => client.removeEventListener('connection_quality', onQuality),
      () => pc.removeEventListener('connectionstatechange', onState),
    ];
  }

  stop() {
    for (const stop of this.unsubscribe) stop();
    this.unsubscribe = [];
  }

  /** Whether one's own peer connection is down (disconnected or failed). */
  lost() {
    return this.pc.connectionState === 'disconnected' || this.pc.connectionState === 'failed';
  }

  /** One's own grade. */
  get grade() {
    return this.lost() ? 'poor' : this.gradeOf(this.self ?? '');
  }

  /**
   * @param {string} participant
   * @returns {QualityGrade}
   */
  gradeOf(participant) {
    return this.grades.get(participant) ?? 'unknown';
  }

  /** @param {string} participant */
  changed(participant) {
    this.dispatchEvent(new CustomEvent('change', { detail: { participant } }));
  }
}

/**
 * The camera and microphone (the fake devices in tests).
 * @param {{video?: boolean, audio?: boolean}} [want]
 */
export async function localMedia(want = { video: true, audio: true }) {
  return navigator.mediaDevices.getUserMedia({
    audio: want.audio ? { echoCancellation: true, noiseSuppression: true } : false,
    video: want.video ? { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 30, max: 30 } } : false,
  });
}
