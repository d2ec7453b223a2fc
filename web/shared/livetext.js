// Real-time text in a call: what each participant types appears to the
// others as it is typed (not only on Enter), with who wrote it, beside the
// video. It travels on the call channel through the SFU (MediaSession's
// `sendCall`), never through the signal service, and nothing of it is kept:
// it lives in this page's memory and goes with the call.
//
// On the wire each message is JSON `{kind: 'text', line, text, done}`: the
// whole line being typed, numbered per writer, sent at most every
// SEND_INTERVAL_MS while it changes and again every RESEND_MS while it is
// unfinished, so a message lost (a channel that opened late, a recipient
// that joined mid-line) is made good by the next. `done` closes the line.
//
// Finished lines go to a log (`role="log"`, announced by screen readers);
// lines being typed show under it, updated live but not announced key by
// key. The kiosk adds an on-screen keyboard in its language (touch screens
// have none).

import { t } from './i18n.js';
import { OnScreenKeyboard } from './keyboard.js';
import { h } from './ui.js';

/** How often a line being typed is sent while it changes. */
const SEND_INTERVAL_MS = 100;
/** How often an unfinished line is sent again. */
const RESEND_MS = 2000;
/** The longest line (characters). */
export const MAX_LINE = 500;
/** Finished lines kept on screen (older ones scroll away, then go). */
const KEPT_LINES = 200;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

let panels = 0;

/**
 * @typedef {object} Entry
 * @property {string} from participant id ('' for oneself)
 * @property {number} line the writer's line number
 * @property {string} text
 */

export class LiveText extends EventTarget {
  /**
   * @param {HTMLElement} container where the panel is drawn
   * @param {{label: (participant: string) => string, keyboard?: boolean}} options
   *   `label` names a participant as the page shows them; `keyboard` adds
   *   the on-screen keyboard (the kiosk)
   */
  constructor(container, options) {
    super();
    panels += 1;
    const id = `live-text-${panels}`;
    this.container = container;
    this.label = options.label;
    /** @type {import('./client.js').MediaSession | null} */
    this.media = null;
    /** @type {Array<() => void>} */
    this.detachMedia = [];
    /** This page's line being typed. */
    this.line = 1;
    /** @type {number | undefined} */
    this.sendTimer = undefined;
    /** @type {number | undefined} */
    this.resendTimer = undefined;
    this.lastSent = '';
    /** Others' lines being typed, by participant. @type {Map<string, Entry>} */
    this.typing = new Map();
    /** The last finished line number per writer, so a late copy is ignored. @type {Map<string, number>} */
    this.finished = new Map();

    this.title = h('h3', { id: `${id}-title`, class: 'live-text-title', 'data-i18n': 'text.title' }, t('text.title'));
    // A log (announced as lines are added) that scrolls: focusable, so it
    // scrolls by keyboard too.
    this.log = h('div', { class: 'live-text-log', role: 'log', 'aria-live': 'polite', 'aria-labelledby': `${id}-title`, tabindex: 0 });
    this.typingList = h('ul', { class: 'live-text-typing', 'aria-label': t('text.typing'), 'data-i18n-attr': 'aria-label=text.typing' });
    this.input = /** @type {HTMLTextAreaElement} */ (
      h('textarea', { id: `${id}-input`, class: 'live-text-input', rows: 2, maxlength: MAX_LINE, autocomplete: 'off', spellcheck: 'false' })
    );
    this.input.addEventListener('input', () => this.changed());
    this.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey) {
        event.preventDefault();
        this.finish();
      }
    });
    this.sendButton = h('button', { type: 'submit', class: 'live-text-send', 'data-i18n': 'text.send' }, t('text.send'));
    const form = h(
      'form',
      { class: 'live-text-form', onsubmit: (/** @type {Event} */ event) => {
        event.preventDefault();
        this.finish();
      } },
      h('label', { for: this.input.id, class: 'live-text-label', 'data-i18n': 'text.write' }, t('text.write')),
      this.input,
      this.sendButton,
    );
    /** @type {OnScreenKeyboard | null} */
    this.keyboard = options.keyboard
      ? new OnScreenKeyboard(this.input, { label: 'text.keyboard', maxLength: MAX_LINE, onChange: () => this.changed(), onEnter: () => this.finish() })
      : null;
    this.panel = h(
      'section',
      { class: 'live-text', 'aria-labelledby': `${id}-title`, 'data-live-text': '' },
      this.title,
      this.log,
      this.typingList,
      form,
      this.keyboard?.element,
    );
    container.replaceChildren(this.panel);
  }

  /**
   * Sends and receives on a media session's call channel (again after the
   * room's media moved to a new connection).
   * @param {import('./client.js').MediaSession} media
   */
  attach(media) {
    for (const stop of this.detachMedia) stop();
    this.media = media;
    const onMessage = (/** @type {Event} */ event) => {
      const message = /** @type {CustomEvent<import('./client.js').CallMessage>} */ (event).detail;
      this.receive(message.from, message.payload);
    };
    const onOpen = () => this.send(true);
    media.addEventListener('callmessage', onMessage);
    media.addEventListener('channelopen', onOpen);
    this.detachMedia = [
      () => media.removeEventListener('callmessage', onMessage),
      () => media.removeEventListener('channelopen', onOpen),
    ];
  }

  /** A participant left: their unfinished line is kept as it stood. @param {string} participant */
  participantLeft(participant) {
    const entry = this.typing.get(participant);
    if (entry?.text) this.commit(entry);
    this.typing.delete(participant);
    this.renderTyping();
  }

  /** Someone joined: the line being typed reaches them without waiting. */
  participantJoined() {
    if (this.input.value) window.setTimeout(() => this.send(true), 500);
  }

  changed() {
    if (this.sendTimer !== undefined) return;
    this.sendTimer = window.setTimeout(() => {
      this.sendTimer = undefined;
      this.send(false);
    }, SEND_INTERVAL_MS);
  }

  /** @param {boolean} again send even if unchanged (a resend) */
  send(again) {
    const text = this.input.value.slice(0, MAX_LINE);
    if (!again && text === this.lastSent) return;
    if (again && !text) return;
    this.transmit({ kind: 'text', line: this.line, text, done: false });
    this.lastSent = text;
    window.clearTimeout(this.resendTimer);
    this.resendTimer = text ? window.setTimeout(() => this.send(true), RESEND_MS) : undefined;
  }

  /** Enter or Send: the line is finished and a new one begins. */
  finish() {
    window.clearTimeout(this.sendTimer);
    this.sendTimer = undefined;
    window.clearTimeout(this.resendTimer);
    this.resendTimer = undefined;
    const text = this.input.value.slice(0, MAX_LINE).trim();
    if (text) {
      this.transmit({ kind: 'text', line: this.line, text, done: true });
      this.commit({ from: '', line: this.line, text });
    } else if (this.lastSent) {
      // A line typed and then erased: the others' view of it goes too.
      this.transmit({ kind: 'text', line: this.line, text: '', done: true });
    }
    this.line += 1;
    this.lastSent = '';
    this.input.value = '';
  }

  /** @param {{kind: 'text', line: number, text: string, done: boolean}} message */
  transmit(message) {
    this.media?.sendCall(encoder.encode(JSON.stringify(message)));
  }

  /**
   * A message from another participant.
   * @param {string} from
   * @param {Uint8Array} payload
   */
  receive(from, payload) {
    // JSON only (a document's parts pass on the same channel).
    if (payload[0] !== 0x7b) return;
    let message;
    try {
      message = JSON.parse(decoder.decode(payload));
    } catch {
      return;
    }
    if (message?.kind !== 'text' || !Number.isInteger(message.line) || typeof message.text !== 'string') return;
    const line = /** @type {number} */ (message.line);
    const text = /** @type {string} */ (message.text).slice(0, MAX_LINE);
    if (line <= (this.finished.get(from) ?? 0)) return;
    const current = this.typing.get(from);
    if (current && current.line < line && current.text) this.commit(current);
    if (message.done === true) {
      this.finished.set(from, line);
      this.typing.delete(from);
      if (text) this.commit({ from, line, text });
    } else {
      this.typing.set(from, { from, line, text });
    }
    this.renderTyping();
    this.dispatchEvent(new CustomEvent('text', { detail: { from } }));
  }

  /** @param {Entry} entry a finished line, to the log */
  commit(entry) {
    if (entry.from) this.finished.set(entry.from, Math.max(entry.line, this.finished.get(entry.from) ?? 0));
    const who = entry.from ? this.label(entry.from) : t('tile.you');
    this.log.append(
      h('p', { class: 'live-text-line', 'data-from': entry.from || 'self' }, h('span', { class: 'live-text-who' }, `${who}: `), h('span', { class: 'live-text-words' }, entry.text)),
    );
    while (this.log.children.length > KEPT_LINES) this.log.firstElementChild?.remove();
    this.log.scrollTop = this.log.scrollHeight;
  }

  renderTyping() {
    const items = [...this.typing.values()]
      .filter((entry) => entry.text)
      .map((entry) =>
        h(
          'li',
          { class: 'live-text-line typing', 'data-from': entry.from },
          h('span', { class: 'live-text-who' }, `${this.label(entry.from)}: `),
          h('span', { class: 'live-text-words' }, entry.text),
        ),
      );
    this.typingList.replaceChildren(...items);
  }

  /** The call ended: everything typed goes with it. */
  destroy() {
    this.keyboard?.destroy();
    for (const stop of this.detachMedia) stop();
    this.detachMedia = [];
    window.clearTimeout(this.sendTimer);
    window.clearTimeout(this.resendTimer);
    this.typing.clear();
    this.container.replaceChildren();
  }
}
