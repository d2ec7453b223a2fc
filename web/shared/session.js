// One room as an app lives it: the participants, the media session to the
// SFU, the call view (with the active speaker highlighted) and the
// connection-quality indicator, kept up to date from the signal service's
// events, across reconnects. The grades are the server's
// (`connection_quality`); the page only says 'poor' on its own when its peer
// connection is down, which the server cannot see.

import { OUTCOME_CODES } from '../types/vocabulary.js';
import { CallView } from './call.js';
import { ConnectionQuality, MediaSession, localMedia } from './client.js';
import { t } from './i18n.js';
import { DocumentsPanel } from './documents.js';
import { LiveText } from './livetext.js';
import { announce, showError } from './ui.js';

/** @typedef {import('./client.js').RoomState} RoomState */
/** @typedef {import('./client.js').RoomMessageType} RoomMessageType */
/**
 * @template {RoomMessageType} T
 * @typedef {import('./client.js').RoomMessageOf<T>} RoomMessageOf
 */

/**
 * The outcomes a person ends a session with (advisor, expert):
 * `connection_lost` is the server's own, for a kiosk that did not come back.
 */
export const CHOSEN_OUTCOMES = OUTCOME_CODES.filter((code) => code !== 'connection_lost');

/**
 * Joins a room's media as a desk app does: the call panel and the quality
 * indicator shown, the session started, and the camera and microphone
 * opened meanwhile (a call goes on without them). `leave()` on the result
 * hides them again.
 * @param {import('./client.js').SignalClient} client
 * @param {RoomState} state the room snapshot
 * @param {{panel: HTMLElement, stage: HTMLElement, quality: HTMLElement, primaryRoles: string[], text?: HTMLElement, keyboard?: boolean, pinnable?: boolean, documents?: DocumentsOptions}} view
 *   `text` holds the call's live text (with an on-screen keyboard when `keyboard`); `pinnable` tiles have pin buttons;
 *   `documents` the call's documents (stills, handouts)
 * @param {(session: RoomSession) => void} [ready] called before media starts (to attach listeners)
 */
export async function openRoom(client, state, view, ready) {
  // The devices open while the call is negotiated, not before it: their
  // tracks go on senders made for them in the first offer.
  const camera = localMedia().catch((error) => {
    showError({ code: 'camera', error });
    return null;
  });
  view.panel.hidden = false;
  view.quality.hidden = false;
  const session = new RoomSession(client, state, {
    stage: view.stage,
    quality: view.quality,
    primaryRoles: view.primaryRoles,
    local: null,
    text: view.text,
    keyboard: view.keyboard,
    pinnable: view.pinnable,
    documents: view.documents,
  });
  session.addEventListener('closed', () => {
    view.panel.hidden = true;
    view.quality.hidden = true;
  });
  ready?.(session);
  try {
    await session.start(camera);
  } catch (error) {
    showError(error);
  }
  return session;
}

/** @typedef {import('./call.js').ParticipantInfo} ParticipantInfo */
/**
 * @typedef {object} DocumentsOptions
 * @property {HTMLElement} container
 * @property {'kiosk' | 'expert' | 'advisor' | 'interpreter'} role
 * @property {() => Promise<Uint8Array | null>} [still] the kiosk takes a still of its document camera
 * @property {(document: import('./documents.js').ReceivedDocument, address: string) => Promise<void>} [email] the kiosk sends a document by e-mail
 */

export class RoomSession extends EventTarget {
  /**
   * @param {import('./client.js').SignalClient} client
   * @param {RoomState} state
   * @param {{stage: HTMLElement, quality?: HTMLElement | null, primaryRoles: string[], local: MediaStream | null, text?: HTMLElement, keyboard?: boolean, pinnable?: boolean, documents?: DocumentsOptions}} options
   */
  constructor(client, state, options) {
    super();
    this.client = client;
    this.room = state.room;
    this.servicePoint = state.service_point;
    this.phase = state.phase;
    this.self = client.welcome?.participant;
    this.local = options.local;
    /** @type {Map<string, ParticipantInfo>} */
    this.participants = new Map();
    this.view = new CallView(options.stage, { primaryRoles: options.primaryRoles, self: options.local, selfParticipant: this.self, pinnable: options.pinnable });
    /** @type {Set<string>} who signs in the room (the server's `signing`) */
    this.signing = new Set();
    this.media = new MediaSession(client, this.room);
    this.quality = new ConnectionQuality(client, this.room, this.self, this.media.pc);
    this.qualityElement = options.quality ?? null;
    this.ended = false;
    /** @type {Array<() => void>} */
    this.unsubscribe = [];
    this.applyState(state);
    /** The call's live text, when the page shows it. */
    this.text = options.text
      ? new LiveText(options.text, {
          label: (participant) => {
            const info = this.participants.get(participant);
            return info ? this.view.label(info) : t('text.someone');
          },
          keyboard: options.keyboard,
        })
      : null;
    this.text?.attach(this.media);
    /** The call's documents, when the page has them. */
    this.documents = options.documents
      ? new DocumentsPanel(options.documents.container, {
          role: options.documents.role,
          participants: () => this.participants,
          label: (participant) => {
            const info = this.participants.get(participant);
            return info ? this.view.label(info) : t('text.someone');
          },
          still: options.documents.still,
          email: options.documents.email,
        })
      : null;
    this.documents?.attach(this.media);

    this.watchMedia(this.media);
    this.quality.addEventListener('change', (event) => {
      const { participant } = /** @type {CustomEvent<{participant: string}>} */ (event).detail;
      if (participant === this.self) this.renderQuality();
      else this.view.setQuality(participant, this.quality.gradeOf(participant));
    });
    this.renderQuality();

    this.listen('participant_joined', (m) => {
      if (m.participant.participant === this.self) return;
      this.participants.set(m.participant.participant, m.participant);
      this.view.upsertParticipant(m.participant);
      this.text?.participantJoined();
      this.documents?.participantJoined();
      announce(t('call.joined', { who: this.view.label(m.participant) }));
      this.changed();
    });
    this.listen('participant_left', (m) => {
      const info = this.participants.get(m.participant);
      this.text?.participantLeft(m.participant);
      this.participants.delete(m.participant);
      this.view.removeParticipant(m.participant);
      if (info) announce(t('call.left', { who: this.view.label(info) }));
      this.changed();
    });
    this.listen('participant_reconnecting', (m) => {
      this.view.setReconnecting(m.participant, true);
      const info = this.participants.get(m.participant);
      if (info) {
        info.connection = 'reconnecting';
        announce(t('call.reconnecting', { who: this.view.label(info) }));
      }
      this.changed();
    });
    this.listen('participant_reconnected', (m) => {
      this.view.setReconnecting(m.participant, false);
      const info = this.participants.get(m.participant);
      if (info) {
        info.connection = 'connected';
        announce(t('call.reconnected', { who: this.view.label(info) }));
      }
      this.changed();
    });
    this.listen('active_speaker', (m) => this.view.setActiveSpeaker(m.participant ?? null));
    this.listen('signing', (m) => this.setSigning(m.participants));
    // The room's media node failed or left and the room was opened on
    // another: a new connection there, with the same camera and microphone.
    this.listen('media_moved', () => {
      if (!this.ended) this.rebuildMedia().catch((error) => console.warn('silta: rebuilding media failed', error));
    });
    this.listen('session_ended', (m) => {
      this.ended = true;
      this.close();
      this.dispatchEvent(new CustomEvent('ended', { detail: m }));
    });
    const onWelcome = (/** @type {Event} */ event) => {
      const welcome = /** @type {CustomEvent<import('./client.js').Welcome>} */ (event).detail;
      const snapshot = welcome.rooms.find((room) => room.room === this.room);
      if (welcome.resumed && snapshot) {
        this.applyState(snapshot);
        // Media may have survived the signaling outage; if not, a new ICE session.
        if (this.media.pc.connectionState !== 'connected') this.media.restartIce();
      } else {
        this.ended = true;
        this.close();
        this.dispatchEvent(new CustomEvent('lost'));
      }
    };
    client.addEventListener('welcome', onWelcome);
    this.unsubscribe.push(() => client.removeEventListener('welcome', onWelcome));
  }

  /**
   * Who signs: shown large; if oneself, one's camera is sent for motion
   * (frame rate kept, resolution lowered first).
   * @param {string[]} participants
   */
  setSigning(participants) {
    const wasSigning = this.self ? this.signing.has(this.self) : false;
    this.signing = new Set(participants);
    this.view.setSigning(this.signing);
    const signs = this.self ? this.signing.has(this.self) : false;
    if (signs !== wasSigning) this.media.preferFrameRate(signs).catch((error) => console.warn('silta: the camera could not be set for motion', error));
    this.changed();
  }

  /** @param {RoomState} state */
  applyState(state) {
    this.phase = state.phase;
    this.participants = new Map(
      state.participants.filter((info) => info.participant !== this.self).map((info) => [info.participant, info]),
    );
    this.view.setParticipants([...this.participants.values()]);
    this.setSigning(state.signing ?? []);
    this.changed();
  }

  /**
   * Starts publishing and receiving; the camera and microphone, when given
   * as still opening, are sent from when they are open.
   * @param {Promise<MediaStream | null>} [camera]
   */
  async start(camera) {
    const started = this.media.start(this.local, { others: this.others() });
    const opened = camera?.then((local) => this.useLocal(local));
    await Promise.all([started, opened]);
    if (this.self && this.signing.has(this.self)) await this.media.preferFrameRate(true);
  }

  /**
   * The camera and microphone, once open: one's own view, and on the
   * senders (stopped at once if the call closed meanwhile).
   * @param {MediaStream | null} local
   */
  async useLocal(local) {
    if (!local) return;
    if (this.media.closed) {
      local.getTracks().forEach((track) => track.stop());
      return;
    }
    this.local = local;
    this.view.setSelf(local);
    await this.media.setLocal(local);
  }

  /** @param {MediaSession} media */
  watchMedia(media) {
    media.addEventListener('remotechange', (event) => {
      const { participant, stream } = /** @type {CustomEvent<import('./client.js').RemoteParticipantMedia>} */ (event).detail;
      this.view.setStream(participant, stream);
    });
    // Media lost while signaling stays up (a UDP path that died): a fresh
    // ICE session, once per failure. After a signaling outage the welcome
    // handler restarts ICE instead.
    media.addEventListener('connectionstatechange', (event) => {
      const state = /** @type {CustomEvent<RTCPeerConnectionState>} */ (event).detail;
      if (state === 'failed' && this.client.state === 'connected' && !this.ended && media === this.media) media.restartIce();
    });
  }

  /** Negotiates the room's media anew on a new connection (`media_moved`). */
  async rebuildMedia() {
    const second = this.media.secondSender?.track ?? null;
    const secondOptions = this.media.secondOptions;
    this.media.close({ stopTracks: false });
    this.media = new MediaSession(this.client, this.room);
    this.quality.pc = this.media.pc;
    this.text?.attach(this.media);
    this.documents?.attach(this.media);
    this.watchMedia(this.media);
    await this.media.start(this.local, { others: this.others() });
    // A document camera or shared screen being shown stays shown.
    if (second) await this.media.setSecondSource(second, secondOptions);
    if (this.self && this.signing.has(this.self)) await this.media.preferFrameRate(true);
  }

  /** The others in the room now, connected: whose media to ask for. */
  others() {
    return [...this.participants.values()].filter((info) => info.connection === 'connected').length;
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
      if (message.room === this.room) handler(message);
    };
    this.client.addEventListener(type, listener);
    this.unsubscribe.push(() => this.client.removeEventListener(type, listener));
  }

  /** @param {string} role */
  has(role) {
    return [...this.participants.values()].some((info) => info.role === role);
  }

  changed() {
    this.dispatchEvent(new CustomEvent('change'));
  }

  renderQuality() {
    const element = this.qualityElement;
    if (!element) return;
    element.dataset.grade = this.quality.grade;
    element.textContent = `${t('quality.label')}: ${t(`quality.${this.quality.grade}`)}`;
  }

  close() {
    this.dispatchEvent(new CustomEvent('closed'));
    for (const stop of this.unsubscribe) stop();
    this.unsubscribe = [];
    this.quality.stop();
    this.media.close();
    this.text?.destroy();
    this.documents?.destroy();
    this.view.destroy();
  }
}
