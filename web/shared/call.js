// The call view every app shows during a session: one tile per remote
// participant's camera (plus a tile for a second source such as a document
// camera or a shared screen), the self view, and the "reconnecting" overlay.
// Which role fills the large area is the app's choice (`primaryRoles`).
// Every tile is also marked `data-size="large"` or `"small"`, with the
// counts on the stage, so a page's stylesheet can lay them out for its
// screen (the kiosk does). The active speaker's tiles (one's own view too,
// when it is oneself) are marked `data-speaking="true"` and described as
// speaking to assistive technology; a remote tile carries its participant's
// connection grade from the server as `data-quality`.
//
// Those who sign (the server's `signing`: a sign-language interpreter, a
// signing citizen) are always large — never a thumbnail — and so is any
// tile one pinned (`pinnable` pages: the expert's and the advisor's). The
// kiosk can swap its large tiles (`swap`), the interpreter beside the
// expert or the other way round.

import { directory } from './directory.js';
import { t } from './i18n.js';
import { h } from './ui.js';

/** @typedef {import('../types/wire').ParticipantInfo} ParticipantInfo */

/**
 * The least time the highlight stays where it is: the server names the
 * loudest voice as often as every 300 ms, and two voices at a time would
 * make it flicker.
 */
const SPEAKER_HOLD_MS = 1500;

/** Numbers the call views of a page, for their element ids. */
let views = 0;

export class CallView {
  /**
   * @param {HTMLElement} container where the stage is drawn
   * @param {{primaryRoles: string[], self?: MediaStream | null, selfParticipant?: string | null, pinnable?: boolean}} options
   */
  constructor(container, options) {
    this.container = container;
    /** Whether each remote camera tile has a pin button. */
    this.pinnable = options.pinnable ?? false;
    /** @type {Set<string>} participants whose tiles one pinned large */
    this.pinned = new Set();
    /** @type {Set<string>} participants who sign (always large) */
    this.signing = new Set();
    this.primaryRoles = options.primaryRoles;
    /** One's own participant id, to mark one's own view when one speaks. */
    this.selfParticipant = options.selfParticipant ?? null;
    /** @type {Map<string, ParticipantInfo>} */
    this.participants = new Map();
    /** @type {Map<string, MediaStream>} */
    this.streams = new Map();
    /** @type {Map<string, HTMLElement>} tiles by `participant/trackId` */
    this.tiles = new Map();
    this.primary = h('div', { class: 'tiles primary', role: 'group', 'aria-label': t('call.main') });
    this.side = h('div', { class: 'tiles side', role: 'group', 'aria-label': t('call.others') });
    this.selfTile = null;
    /** @type {string | null} the speaker shown */
    this.activeSpeaker = null;
    /** @type {string | null} the loudest participant, from `active_speaker` */
    this.latestSpeaker = null;
    /** @type {number | undefined} while the shown speaker is held */
    this.speakerHold = undefined;
    /** @type {Map<string, string>} the server's connection grade by participant */
    this.qualities = new Map();
    views += 1;
    // The speaking tile's description (`aria-describedby`), re-translated
    // with the page.
    this.speakingNote = h('span', { id: `call-speaking-${views}`, class: 'visually-hidden', 'data-i18n': 'tile.speaking' }, t('tile.speaking'));
    this.stage = h('div', { class: 'stage' }, this.primary, this.side, this.speakingNote);
    container.replaceChildren(this.stage);
    if (options.self) this.setSelf(options.self);
    this.watcher = window.setInterval(() => this.watchSecondSources(), 1000);
    // Agency names come from the directory: the labels follow when it loads.
    this.onDirectory = () => this.render();
    directory.addEventListener('change', this.onDirectory);
  }

  /**
   * A second source (document camera, shared screen) is negotiated when
   * first shown and sends only while in use: its tile is shown while its
   * video element presents new frames, and collapsed two seconds after they
   * stop.
   */
  watchSecondSources() {
    for (const tile of this.tiles.values()) {
      if (tile.dataset.source !== 'second') continue;
      const video = /** @type {HTMLVideoElement} */ (tile.querySelector('video'));
      const frames = video.getVideoPlaybackQuality?.().totalVideoFrames ?? 0;
      const previous = Number(tile.dataset.frames ?? '0');
      const now = Date.now();
      if (frames > previous) tile.dataset.lastFrame = String(now);
      tile.dataset.frames = String(frames);
      const active = now - Number(tile.dataset.lastFrame ?? '0') < 2000;
      if (String(active) !== tile.dataset.active) {
        tile.dataset.active = String(active);
        tile.setAttribute('aria-hidden', String(!active));
        this.layout();
      }
    }
  }

  /** @param {MediaStream | null} stream */
  setSelf(stream) {
    this.selfTile?.remove();
    this.selfTile = null;
    if (!stream || stream.getVideoTracks().length === 0) return;
    const video = /** @type {HTMLVideoElement} */ (h('video', { autoplay: true, playsinline: true, 'aria-hidden': 'true' }));
    video.muted = true;
    video.srcObject = new MediaStream(stream.getVideoTracks());
    this.selfTile = h('figure', { class: 'tile self', 'data-self': 'true' }, video, h('figcaption', { class: 'tile-label' }, t('tile.you')));
    this.side.append(this.selfTile);
    this.layout();
  }

  /**
   * Marks the loudest participant (or nobody, for silence): their tiles
   * are highlighted and shown large, like the primary roles'. One's own
   * view is highlighted when one speaks, but stays small. A change shows
   * at once unless the last one is under SPEAKER_HOLD_MS old; then the
   * latest speaker shows when that time is up.
   * @param {string | null} participant
   */
  setActiveSpeaker(participant) {
    this.latestSpeaker = participant;
    if (this.speakerHold === undefined) this.showSpeaker();
  }

  showSpeaker() {
    this.speakerHold = undefined;
    if (this.activeSpeaker === this.latestSpeaker) return;
    this.activeSpeaker = this.latestSpeaker;
    this.layout();
    this.speakerHold = window.setTimeout(() => this.showSpeaker(), SPEAKER_HOLD_MS);
  }

  /**
   * A participant's connection grade from the server, shown on their tiles
   * as `data-quality`.
   * @param {string} participant
   * @param {string} grade
   */
  setQuality(participant, grade) {
    this.qualities.set(participant, grade);
    for (const tile of this.tiles.values()) {
      if (tile.dataset.participant === participant) tile.dataset.quality = grade;
    }
  }

  /**
   * Sizes the tiles: the primary roles and whoever speaks large, everyone
   * else small; when no primary role is in the room the others are large,
   * so the screen never shows an empty main area. One's own view is small
   * unless it is alone.
   */
  layout() {
    const shown = [...this.tiles.values()].filter((tile) => tile.isConnected && tile.dataset.active !== 'false');
    const primaryPresent = shown.some((tile) => this.primaryRoles.includes(tile.dataset.role ?? ''));
    let large = 0;
    let small = 0;
    for (const tile of shown) {
      const speaking = this.activeSpeaker !== null && tile.dataset.participant === this.activeSpeaker;
      const isLarge = !primaryPresent || speaking || this.primaryRoles.includes(tile.dataset.role ?? '') || this.keptLarge(tile);
      tile.dataset.size = isLarge ? 'large' : 'small';
      this.markSpeaking(tile, speaking);
      if (isLarge) large += 1;
      else small += 1;
    }
    if (this.selfTile) {
      const alone = shown.length === 0;
      this.selfTile.dataset.size = alone ? 'large' : 'small';
      this.markSpeaking(this.selfTile, this.activeSpeaker !== null && this.activeSpeaker === this.selfParticipant);
      if (alone) large += 1;
      else small += 1;
    }
    this.stage.dataset.large = String(large);
    this.stage.dataset.small = String(small);
  }

  /**
   * A camera tile of someone who signs or whom one pinned.
   * @param {HTMLElement} tile
   */
  keptLarge(tile) {
    const participant = tile.dataset.participant ?? '';
    return tile.dataset.source === 'camera' && (this.signing.has(participant) || this.pinned.has(participant));
  }

  /**
   * Who signs now (the server's `signing`).
   * @param {Iterable<string>} participants
   */
  setSigning(participants) {
    this.signing = new Set(participants);
    this.render();
  }

  /**
   * Pins a participant's camera tile large, or unpins it.
   * @param {string} participant
   * @param {boolean} pinned
   */
  setPinned(participant, pinned) {
    if (pinned) this.pinned.add(participant);
    else this.pinned.delete(participant);
    this.render();
  }

  /** Whether there are two large camera tiles to swap. */
  canSwap() {
    return this.primary.querySelectorAll('.tile[data-size="large"][data-source="camera"]').length >= 2;
  }

  /** Swaps the large tiles' places: the first goes last. */
  swap() {
    const first = this.primary.querySelector('.tile[data-size="large"][data-source="camera"]');
    if (first) this.primary.append(first);
    this.layout();
  }

  /** @param {HTMLElement} tile @param {boolean} speaking */
  markSpeaking(tile, speaking) {
    tile.dataset.speaking = String(speaking);
    if (speaking) tile.setAttribute('aria-describedby', this.speakingNote.id);
    else tile.removeAttribute('aria-describedby');
  }

  /** @param {ParticipantInfo[]} list everyone else in the room */
  setParticipants(list) {
    this.participants = new Map(list.map((info) => [info.participant, info]));
    this.render();
  }

  /** @param {ParticipantInfo} info */
  upsertParticipant(info) {
    this.participants.set(info.participant, info);
    this.render();
  }

  /** @param {string} participant */
  removeParticipant(participant) {
    this.participants.delete(participant);
    this.qualities.delete(participant);
    this.render();
  }

  /** @param {string} participant @param {boolean} reconnecting */
  setReconnecting(participant, reconnecting) {
    const info = this.participants.get(participant);
    if (info) info.connection = reconnecting ? 'reconnecting' : 'connected';
    this.render();
  }

  /** @param {string} participant @param {MediaStream} stream */
  setStream(participant, stream) {
    this.streams.set(participant, stream);
    this.render();
  }

  /** The label of a participant: role and organisation, never a name. */
  /** @param {ParticipantInfo} info */
  label(info) {
    const role = t(`role.${info.role}`);
    const organisation = info.role === 'expert' ? directory.agencyName(info.organisation) : '';
    const languages = info.role === 'interpreter' ? info.languages.map((lang) => t(`lang.${lang}`)).join(', ') : '';
    return [role, organisation, languages].filter(Boolean).join(' · ');
  }

  render() {
    const wanted = new Set();
    const ordered = [...this.participants.values()].sort(
      (a, b) => this.rank(a.role) - this.rank(b.role),
    );
    for (const info of ordered) {
      const stream = this.streams.get(info.participant);
      const videos = stream?.getVideoTracks() ?? [];
      const audio = stream?.getAudioTracks() ?? [];
      // A tile for the camera even before media arrives; one more for each
      // second source that is sending.
      const tracks = videos.length > 0 ? videos : [null];
      tracks.forEach((track, index) => {
        const key = `${info.participant}/${track ? track.id : 'none'}`;
        wanted.add(key);
        let tile = this.tiles.get(key);
        if (!tile) {
          const video = /** @type {HTMLVideoElement} */ (h('video', { autoplay: true, playsinline: true }));
          tile = h('figure', { class: 'tile', 'data-participant': info.participant, 'data-role': info.role }, video, h('figcaption', { class: 'tile-label' }));
          if (this.pinnable && index === 0) {
            const participant = info.participant;
            tile.append(
              h('button', { type: 'button', class: 'tile-pin', 'aria-pressed': 'false', onclick: () => this.setPinned(participant, !this.pinned.has(participant)) }, t('tile.pin')),
            );
          }
          if (track) {
            video.srcObject = new MediaStream(index === 0 ? [track, ...audio] : [track]);
            track.addEventListener('unmute', () => this.render());
            track.addEventListener('mute', () => this.render());
          }
          this.tiles.set(key, tile);
        } else if (track && index === 0) {
          // Audio may arrive after video: keep the first tile's stream complete.
          const video = /** @type {HTMLVideoElement} */ (tile.querySelector('video'));
          const current = /** @type {MediaStream | null} */ (video.srcObject);
          for (const a of audio) if (current && !current.getTrackById(a.id)) current.addTrack(a);
        }
        tile.dataset.source = index === 0 ? 'camera' : 'second';
        const quality = this.qualities.get(info.participant);
        if (quality) tile.dataset.quality = quality;
        // A second source shows only while frames arrive (see watchSecondSources).
        if (index > 0 && !tile.dataset.active) {
          tile.dataset.active = 'false';
          tile.setAttribute('aria-hidden', 'true');
        }
        const caption = /** @type {HTMLElement} */ (tile.querySelector('figcaption'));
        caption.textContent = index === 0 ? this.label(info) : `${this.label(info)} · ${t('call.second_source')}`;
        tile.dataset.reconnecting = String(info.connection === 'reconnecting');
        tile.dataset.reconnectingLabel = t('tile.reconnecting');
        tile.setAttribute('aria-label', tile.dataset.reconnecting === 'true' ? `${caption.textContent}: ${t('tile.reconnecting')}` : caption.textContent);
        tile.dataset.signing = String(index === 0 && this.signing.has(info.participant));
        const pin = tile.querySelector('.tile-pin');
        if (pin) {
          pin.textContent = t('tile.pin');
          pin.setAttribute('aria-pressed', String(this.pinned.has(info.participant)));
          pin.setAttribute('aria-label', `${t('tile.pin')}: ${caption.textContent}`);
        }
        const large = index === 0 && (this.signing.has(info.participant) || this.pinned.has(info.participant));
        const target = this.primaryRoles.includes(info.role) || large ? this.primary : this.side;
        if (tile.parentElement !== target) target.append(tile);
      });
      // Audio-only until the camera track arrives.
      if (videos.length === 0 && audio.length > 0) {
        const tile = this.tiles.get(`${info.participant}/none`);
        const video = /** @type {HTMLVideoElement | null} */ (tile?.querySelector('video') ?? null);
        if (video && !video.srcObject) video.srcObject = new MediaStream(audio);
      }
    }
    for (const [key, tile] of this.tiles) {
      if (!wanted.has(key)) {
        tile.remove();
        this.tiles.delete(key);
      }
    }
    if (this.selfTile) this.side.append(this.selfTile);
    this.layout();
  }

  /** @param {string} role */
  rank(role) {
    const index = this.primaryRoles.indexOf(role);
    return index === -1 ? 10 : index;
  }

  destroy() {
    directory.removeEventListener('change', this.onDirectory);
    window.clearInterval(this.watcher);
    window.clearTimeout(this.speakerHold);
    this.container.replaceChildren();
    this.tiles.clear();
  }
}
