// Documents in a call, never stored: a still of the kiosk's document camera
// at its full resolution for the expert (asked for by the expert, or taken
// by the advisor), and a PDF or image the expert hands to the citizen,
// shown large at the kiosk, printed there or sent once by e-mail. The
// interpreter sees them too when the expert allows it.
//
// They travel on the call channel through the SFU (MediaSession's
// `sendCall`) in parts the SFU passes on and never keeps
// (crates/sfu/src/core/documents.rs has the frames): a start naming the
// type and size, then 16 KiB parts. Each recipient acknowledges what it
// holds; the sender keeps a window of parts in flight per recipient and
// sends again what was not acknowledged, so a part the SFU had to drop
// costs a resend, not the document. Limits (10 MiB; PDF, PNG, JPEG by
// their first bytes) are checked here on both ends and by the SFU.
//
// A document lives in this page's memory (and in a blob URL while shown)
// and goes with the call.

import { t } from './i18n.js';
import { EMAIL_KEYS, OnScreenKeyboard } from './keyboard.js';
import { announce, h } from './ui.js';

/** The largest document (bytes). */
export const MAX_DOCUMENT = 10 * 1024 * 1024;
/** The bytes of one part. */
const PART = 16 * 1024;
/** Bytes a sender keeps unacknowledged per recipient. */
const WINDOW = 6 * PART;
/** A recipient that acknowledged nothing new for this long is sent the rest again. */
const RESEND_MS = 1500;
/** A recipient that acknowledged nothing new for this long is given up. */
const GIVE_UP_MS = 30_000;
/** How long a notice stays on the kiosk's screen. */
const KIOSK_NOTICE_MS = 8000;
/** Documents a page may be receiving at once from one sender. */
const MAX_INCOMING = 4;

const START = 0x01;
const PART_FRAME = 0x02;
const REFUSED = 0x03;

/** @typedef {'application/pdf' | 'image/png' | 'image/jpeg'} DocumentType */
/** @typedef {'still' | 'handout'} Purpose */

/** @type {Record<DocumentType, number>} */
const TYPE_CODES = { 'application/pdf': 1, 'image/png': 2, 'image/jpeg': 3 };
/** @type {Record<number, DocumentType>} */
const TYPES_BY_CODE = { 1: 'application/pdf', 2: 'image/png', 3: 'image/jpeg' };
/** @type {Record<DocumentType, number[]>} */
const SIGNATURES = {
  'application/pdf': [0x25, 0x50, 0x44, 0x46, 0x2d],
  'image/png': [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
  'image/jpeg': [0xff, 0xd8, 0xff],
};
/** @type {Record<Purpose, number>} */
const PURPOSE_CODES = { still: 1, handout: 2 };
/** The SFU's refusal reasons. */
const REFUSALS = ['', 'too_large', 'wrong_type', 'malformed', 'too_many', 'unknown'];

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The type of a file by its first bytes (whatever it is called); null when
 * it is not a PDF, PNG or JPEG.
 * @param {Uint8Array} bytes
 * @returns {DocumentType | null}
 */
export function sniff(bytes) {
  for (const [type, signature] of Object.entries(SIGNATURES)) {
    if (bytes.length >= signature.length && signature.every((byte, i) => bytes[i] === byte)) return /** @type {DocumentType} */ (type);
  }
  return null;
}

/**
 * Why a document may not pass, or null when it may.
 * @param {Uint8Array} bytes
 * @returns {'too_large' | 'wrong_type' | null}
 */
export function refusalOf(bytes) {
  if (bytes.length > MAX_DOCUMENT) return 'too_large';
  if (bytes.length === 0 || !sniff(bytes)) return 'wrong_type';
  return null;
}

/** A refusal as the page says it. @param {string} reason */
export function refusalText(reason) {
  return t(`documents.refused.${['too_large', 'wrong_type', 'no_answer', 'interrupted'].includes(reason) ? reason : 'other'}`, {
    limit: String(MAX_DOCUMENT / 1024 / 1024),
  });
}

/** @param {number} value @param {Uint8Array} into @param {number} at */
function writeU32(value, into, at) {
  new DataView(into.buffer, into.byteOffset).setUint32(at, value);
}

/** @param {Uint8Array} from @param {number} at */
function readU32(from, at) {
  return new DataView(from.buffer, from.byteOffset, from.byteLength).getUint32(at);
}

/**
 * @typedef {object} Outgoing
 * @property {number} id
 * @property {Uint8Array} bytes
 * @property {DocumentType} type
 * @property {Purpose} purpose
 * @property {number} sent bytes sent at least once
 * @property {Map<string, {have: number, heard: number, resent: number}>} recipients what each acknowledged, and when
 * @property {(value: void) => void} resolve
 * @property {(reason: Error) => void} reject
 * @property {number} timer
 */

/**
 * @typedef {object} Incoming
 * @property {DocumentType} type
 * @property {Purpose} purpose
 * @property {Uint8Array} bytes
 * @property {number} have bytes held from the start without a gap
 */

/**
 * @typedef {object} ReceivedDocument
 * @property {string} from participant id
 * @property {DocumentType} type
 * @property {Purpose} purpose
 * @property {Uint8Array} bytes
 */

/**
 * The transfer of documents on a media session's call channel. Events:
 * `document` (a whole document arrived: ReceivedDocument), `control` (a
 * JSON message of the documents' own: `{from, message}`).
 */
export class DocumentChannel extends EventTarget {
  constructor() {
    super();
    /** @type {import('./client.js').MediaSession | null} */
    this.media = null;
    /** @type {Map<number, Outgoing>} */
    this.outgoing = new Map();
    /** @type {Map<string, Incoming>} by `from/id` */
    this.incoming = new Map();
    /** @type {Map<string, number>} documents received whole (`from/id` → size), acknowledged again if a part repeats */
    this.done = new Map();
    /** @type {Array<() => void>} */
    this.detachMedia = [];
  }

  /**
   * Sends and receives on a media session's call channel; documents on
   * their way on a previous one are given up (the sender may send again).
   * @param {import('./client.js').MediaSession} media
   */
  attach(media) {
    for (const stop of this.detachMedia) stop();
    for (const transfer of [...this.outgoing.values()]) this.fail(transfer, 'interrupted');
    this.incoming.clear();
    this.media = media;
    const onMessage = (/** @type {Event} */ event) => {
      const { from, payload } = /** @type {CustomEvent<import('./client.js').CallMessage>} */ (event).detail;
      this.receive(from, payload);
    };
    media.addEventListener('callmessage', onMessage);
    this.detachMedia = [() => media.removeEventListener('callmessage', onMessage)];
  }

  /**
   * A JSON message of the documents' own to some participants (all others
   * when none are named).
   * @param {Record<string, unknown>} message
   * @param {string[]} [to]
   */
  control(message, to = []) {
    return this.media?.sendCall(encoder.encode(JSON.stringify(message)), to) ?? false;
  }

  /**
   * Sends a document to participants; resolves when every one of them holds
   * it whole, rejects with `Error(reason)` (too_large, wrong_type, no_answer,
   * interrupted, or the SFU's or a recipient's refusal).
   * @param {Uint8Array} bytes
   * @param {Purpose} purpose
   * @param {string[]} to
   * @returns {Promise<void>}
   */
  send(bytes, purpose, to) {
    const refusal = refusalOf(bytes);
    const type = sniff(bytes);
    if (refusal || !type) return Promise.reject(new Error(refusal ?? 'wrong_type'));
    if (to.length === 0) return Promise.reject(new Error('no_answer'));
    return new Promise((resolve, reject) => {
      const id = crypto.getRandomValues(new Uint32Array(1))[0];
      const now = performance.now();
      /** @type {Outgoing} */
      const transfer = {
        id,
        bytes,
        type,
        purpose,
        sent: 0,
        recipients: new Map(to.map((participant) => [participant, { have: 0, heard: now, resent: now }])),
        resolve,
        reject,
        timer: window.setInterval(() => this.watch(transfer), RESEND_MS / 3),
      };
      this.outgoing.set(id, transfer);
      if (!this.sendStart(transfer, to)) {
        this.fail(transfer, 'interrupted');
        return;
      }
      this.pump(transfer);
    });
  }

  /** @param {Outgoing} transfer @param {string[]} to */
  sendStart(transfer, to) {
    const frame = new Uint8Array(11);
    frame[0] = START;
    writeU32(transfer.id, frame, 1);
    frame[5] = TYPE_CODES[transfer.type];
    writeU32(transfer.bytes.length, frame, 6);
    frame[10] = PURPOSE_CODES[transfer.purpose];
    return this.media?.sendCall(frame, to) ?? false;
  }

  /**
   * The part at `offset`, to the document's recipients (none named) or to
   * some of them.
   * @param {Outgoing} transfer @param {number} offset @param {string[]} [to]
   */
  sendPart(transfer, offset, to = []) {
    const chunk = transfer.bytes.subarray(offset, offset + PART);
    const frame = new Uint8Array(9 + chunk.length);
    frame[0] = PART_FRAME;
    writeU32(transfer.id, frame, 1);
    writeU32(offset, frame, 5);
    frame.set(chunk, 9);
    return this.media?.sendCall(frame, to) ?? false;
  }

  /** New parts while every recipient's window has room. @param {Outgoing} transfer */
  pump(transfer) {
    const channel = this.media?.channel;
    while (transfer.sent < transfer.bytes.length) {
      const slowest = Math.min(...[...transfer.recipients.values()].map((r) => r.have));
      if (transfer.sent - slowest >= WINDOW) return;
      // The browser's own buffer: wait for it to drain rather than pile up.
      if (channel && channel.bufferedAmount > 4 * WINDOW) return;
      if (!this.sendPart(transfer, transfer.sent)) return;
      transfer.sent = Math.min(transfer.bytes.length, transfer.sent + PART);
    }
  }

  /** Resends to recipients that fell silent; gives up on those silent too long. @param {Outgoing} transfer */
  watch(transfer) {
    const now = performance.now();
    for (const [participant, state] of transfer.recipients) {
      if (state.have >= transfer.bytes.length) continue;
      if (now - state.heard > GIVE_UP_MS) {
        this.fail(transfer, 'no_answer');
        return;
      }
      if (now - state.heard > RESEND_MS && now - state.resent > RESEND_MS) {
        state.resent = now;
        // Nothing heard at all: the start may have been lost too.
        if (state.have === 0) this.sendStart(transfer, [participant]);
        for (let offset = state.have; offset < Math.min(transfer.sent, state.have + WINDOW); offset += PART) {
          this.sendPart(transfer, offset, [participant]);
        }
      }
    }
    this.pump(transfer);
  }

  /** @param {Outgoing} transfer @param {string} reason */
  fail(transfer, reason) {
    window.clearInterval(transfer.timer);
    this.outgoing.delete(transfer.id);
    transfer.reject(new Error(reason));
  }

  /** @param {string} from @param {Uint8Array} payload */
  receive(from, payload) {
    const kind = payload[0];
    if (kind === START || kind === PART_FRAME) this.receiveFrame(from, payload);
    else if (kind === REFUSED && from === '' && payload.length >= 6) {
      const transfer = this.outgoing.get(readU32(payload, 1));
      if (transfer) this.fail(transfer, REFUSALS[payload[5]] || 'malformed');
    } else if (kind === 0x7b) {
      let message;
      try {
        message = JSON.parse(decoder.decode(payload));
      } catch {
        return;
      }
      if (typeof message?.kind !== 'string' || !message.kind.startsWith('doc-')) return;
      if (message.kind === 'doc-ack') this.acknowledged(from, message);
      else if (message.kind === 'doc-refused') {
        const transfer = this.outgoing.get(message.id);
        if (transfer?.recipients.has(from)) this.fail(transfer, String(message.reason));
      } else this.dispatchEvent(new CustomEvent('control', { detail: { from, message } }));
    }
  }

  /** @param {string} from @param {{id?: unknown, have?: unknown}} message */
  acknowledged(from, message) {
    const transfer = typeof message.id === 'number' ? this.outgoing.get(message.id) : undefined;
    const state = transfer?.recipients.get(from);
    if (!transfer || !state || typeof message.have !== 'number') return;
    if (message.have > state.have) {
      state.have = Math.min(message.have, transfer.bytes.length);
      state.heard = performance.now();
    } else if (message.have === state.have) {
      state.heard = performance.now();
    }
    if ([...transfer.recipients.values()].every((r) => r.have >= transfer.bytes.length)) {
      window.clearInterval(transfer.timer);
      this.outgoing.delete(transfer.id);
      transfer.resolve();
      return;
    }
    this.pump(transfer);
  }

  /** @param {string} from @param {number} id @param {number} have */
  ack(from, id, have) {
    this.control({ kind: 'doc-ack', id, have }, [from]);
  }

  /** @param {string} from @param {Uint8Array} payload */
  receiveFrame(from, payload) {
    if (payload.length < 9) return;
    const id = readU32(payload, 1);
    const key = `${from}/${id}`;
    const finished = this.done.get(key);
    if (finished !== undefined) {
      this.ack(from, id, finished);
      return;
    }
    if (payload[0] === START) {
      if (payload.length < 11 || this.incoming.has(key)) {
        if (this.incoming.has(key)) this.ack(from, id, /** @type {Incoming} */ (this.incoming.get(key)).have);
        return;
      }
      const type = TYPES_BY_CODE[payload[5]];
      const size = readU32(payload, 6);
      const purpose = payload[10] === PURPOSE_CODES.still ? 'still' : 'handout';
      const fromSender = [...this.incoming.keys()].filter((k) => k.startsWith(`${from}/`)).length;
      const reason = !type ? 'wrong_type' : size === 0 || size > MAX_DOCUMENT ? 'too_large' : fromSender >= MAX_INCOMING ? 'too_many' : null;
      if (reason) {
        this.control({ kind: 'doc-refused', id, reason }, [from]);
        return;
      }
      this.incoming.set(key, { type, purpose, bytes: new Uint8Array(size), have: 0 });
      this.ack(from, id, 0);
      return;
    }
    const incoming = this.incoming.get(key);
    if (!incoming) return;
    const offset = readU32(payload, 5);
    const chunk = payload.subarray(9);
    if (offset <= incoming.have && offset + chunk.length > incoming.have) {
      if (offset + chunk.length > incoming.bytes.length) {
        this.incoming.delete(key);
        this.control({ kind: 'doc-refused', id, reason: 'too_large' }, [from]);
        return;
      }
      incoming.bytes.set(chunk, offset);
      incoming.have = offset + chunk.length;
    }
    this.ack(from, id, incoming.have);
    if (incoming.have < incoming.bytes.length) return;
    this.incoming.delete(key);
    if (sniff(incoming.bytes) !== incoming.type) {
      this.control({ kind: 'doc-refused', id, reason: 'wrong_type' }, [from]);
      return;
    }
    this.done.set(key, incoming.bytes.length);
    /** @type {ReceivedDocument} */
    const detail = { from, type: incoming.type, purpose: incoming.purpose, bytes: incoming.bytes };
    this.dispatchEvent(new CustomEvent('document', { detail }));
  }

  /** The call ended: everything on its way goes with it. */
  destroy() {
    for (const stop of this.detachMedia) stop();
    this.detachMedia = [];
    for (const transfer of [...this.outgoing.values()]) this.fail(transfer, 'interrupted');
    this.incoming.clear();
    this.done.clear();
    this.media = null;
  }
}

/** Zoom steps of the viewer. */
const ZOOMS = ['1', '1.5', '2', '3', '4'];

/**
 * A document shown large: an image (zoom, rotate) or a PDF's pages drawn
 * by PDF.js (web/vendor/pdfjs), with the page's own actions (print,
 * e-mail at the kiosk). Printing prints this viewer alone
 * (`body[data-printing]` and the print stylesheet).
 */
export class DocumentViewer {
  /**
   * @param {ReceivedDocument} document
   * @param {{title: string, actions?: HTMLElement[], onClose: () => void}} options
   */
  constructor(document, options) {
    this.document = document;
    this.url = URL.createObjectURL(new Blob([/** @type {BlobPart} */ (document.bytes)], { type: document.type }));
    this.zoom = 0;
    this.rotation = 0;
    this.content = h('div', { class: 'document-content', 'data-zoom': ZOOMS[0], 'data-rotation': '0', tabindex: 0, 'aria-label': options.title });
    const button = (/** @type {string} */ key, /** @type {() => void} */ action, /** @type {string} */ name) =>
      h('button', { type: 'button', class: 'document-action', 'data-action': name, onclick: action }, t(key));
    const tools = [
      button('documents.zoom_in', () => this.setZoom(this.zoom + 1), 'zoom-in'),
      button('documents.zoom_out', () => this.setZoom(this.zoom - 1), 'zoom-out'),
      document.type === 'application/pdf' ? null : button('documents.rotate', () => this.rotate(), 'rotate'),
      ...(options.actions ?? []),
      button('documents.close', options.onClose, 'close'),
    ];
    this.element = h(
      'section',
      { class: 'document-viewer', 'data-document': document.purpose, 'data-type': document.type, 'aria-label': options.title },
      h('h3', { class: 'document-title' }, options.title),
      h('div', { class: 'document-tools', role: 'toolbar', 'aria-label': t('documents.tools') }, ...tools),
      this.content,
    );
    this.rendered = this.render();
  }

  async render() {
    if (this.document.type !== 'application/pdf') {
      const image = /** @type {HTMLImageElement} */ (h('img', { class: 'document-image', alt: t('documents.image_alt'), src: this.url }));
      this.content.replaceChildren(image);
      await image.decode().catch(() => {});
      return;
    }
    const pdfjs = await import(/** @type {string} */ ('/vendor/pdfjs/pdf.min.mjs'));
    pdfjs.GlobalWorkerOptions.workerSrc = '/vendor/pdfjs/pdf.worker.min.mjs';
    const pdf = await pdfjs.getDocument({ data: this.document.bytes.slice(), isEvalSupported: false, enableXfa: false }).promise;
    const pages = [];
    for (let number = 1; number <= pdf.numPages; number += 1) {
      const page = await pdf.getPage(number);
      const viewport = page.getViewport({ scale: 2 });
      const canvas = /** @type {HTMLCanvasElement} */ (
        h('canvas', { class: 'document-page', width: Math.floor(viewport.width), height: Math.floor(viewport.height), role: 'img', 'aria-label': t('documents.page', { page: String(number), pages: String(pdf.numPages) }) })
      );
      await page.render({ canvas, canvasContext: canvas.getContext('2d'), viewport }).promise;
      pages.push(canvas);
      this.content.replaceChildren(...pages);
    }
    this.content.dataset.pages = String(pdf.numPages);
    await pdf.destroy();
  }

  /** @param {number} step */
  setZoom(step) {
    this.zoom = Math.max(0, Math.min(ZOOMS.length - 1, step));
    this.content.dataset.zoom = ZOOMS[this.zoom];
  }

  rotate() {
    this.rotation = (this.rotation + 90) % 360;
    this.content.dataset.rotation = String(this.rotation);
  }

  /** Prints this document alone (the browser's print path; a kiosk-mode browser prints without asking). */
  async print() {
    await this.rendered;
    document.body.dataset.printing = 'document';
    this.element.classList.add('printing');
    try {
      window.print();
    } finally {
      delete document.body.dataset.printing;
      this.element.classList.remove('printing');
    }
  }

  destroy() {
    URL.revokeObjectURL(this.url);
    this.element.remove();
  }
}

/**
 * The documents part of a call view: what a role can do with documents and
 * the viewer of what arrived.
 *
 * - kiosk: answers requests for a still (`still` takes it), shows what the
 *   expert hands over large, with print and e-mail (`email` sends it);
 * - expert: asks the kiosk for a still, hands a file to the citizen, allows
 *   the interpreter to see documents;
 * - advisor: takes a still for the expert;
 * - interpreter: sees what the expert allows.
 */
export class DocumentsPanel extends EventTarget {
  /**
   * @param {HTMLElement} container
   * @param {{
   *   role: 'kiosk' | 'expert' | 'advisor' | 'interpreter',
   *   participants: () => Map<string, import('./call.js').ParticipantInfo>,
   *   label: (participant: string) => string,
   *   still?: () => Promise<Uint8Array | null>,
   *   email?: (document: ReceivedDocument, address: string) => Promise<void>,
   * }} options
   */
  constructor(container, options) {
    super();
    this.container = container;
    this.options = options;
    this.channel = new DocumentChannel();
    /** The expert lets the interpreter see documents (the expert's choice, told to the room). */
    this.interpreterSees = false;
    /** @type {DocumentViewer | null} */
    this.viewer = null;
    /** @type {OnScreenKeyboard | null} the e-mail form's keyboard (the kiosk) */
    this.emailKeyboard = null;
    /** @type {number | undefined} */
    this.sayTimer = undefined;
    this.status = h('p', { class: 'documents-status', role: 'status' });
    this.viewerArea = h('div', { class: 'documents-viewer-area' });
    /** @type {HTMLElement[]} */
    const controls = [];
    if (options.role === 'expert' || options.role === 'advisor') {
      this.stillButton = h('button', { type: 'button', class: 'documents-still', onclick: () => this.askStill() }, t(options.role === 'expert' ? 'documents.ask_still' : 'documents.take_still'));
      controls.push(this.stillButton);
    }
    if (options.role === 'expert') {
      this.fileInput = /** @type {HTMLInputElement} */ (
        h('input', { type: 'file', id: 'documents-file', class: 'documents-file', accept: 'application/pdf,image/png,image/jpeg', onchange: () => this.handFile() })
      );
      this.interpreterBox = /** @type {HTMLInputElement} */ (
        h('input', { type: 'checkbox', id: 'documents-interpreter', onchange: () => this.allowInterpreter(this.interpreterBox?.checked ?? false) })
      );
      controls.push(
        h('label', { for: 'documents-file', class: 'documents-file-label' }, t('documents.hand')),
        this.fileInput,
        h('label', { class: 'documents-allow' }, this.interpreterBox, ' ', t('documents.interpreter_sees')),
      );
    }
    this.element = h(
      'section',
      { class: 'documents', 'data-documents': options.role, 'aria-label': t('documents.title') },
      controls.length ? h('div', { class: 'documents-controls' }, ...controls) : null,
      this.status,
      this.viewerArea,
    );
    container.replaceChildren(this.element);
    this.channel.addEventListener('document', (event) => this.received(/** @type {CustomEvent<ReceivedDocument>} */ (event).detail));
    this.channel.addEventListener('control', (event) => {
      const { from, message } = /** @type {CustomEvent<{from: string, message: Record<string, unknown>}>} */ (event).detail;
      this.controlMessage(from, message);
    });
  }

  /** @param {import('./client.js').MediaSession} media */
  attach(media) {
    this.channel.attach(media);
    // The expert's choice reaches those who join later or reconnect.
    media.addEventListener('channelopen', () => this.tellChoice());
  }

  /** Someone joined: they learn the expert's choice. */
  participantJoined() {
    window.setTimeout(() => this.tellChoice(), 500);
  }

  tellChoice() {
    if (this.options.role === 'expert') this.channel.control({ kind: 'doc-share', interpreter: this.interpreterSees });
  }

  /** @param {string} role */
  membersWith(role) {
    return [...this.options.participants().values()].filter((info) => info.role === role).map((info) => info.participant);
  }

  /** @param {string} text */
  say(text) {
    this.status.textContent = text;
    announce(text);
    // At the kiosk the line is a passing notice over the call.
    if (this.options.role === 'kiosk') {
      window.clearTimeout(this.sayTimer);
      this.sayTimer = window.setTimeout(() => {
        this.status.textContent = '';
      }, KIOSK_NOTICE_MS);
    }
  }

  askStill() {
    const kiosk = this.membersWith('kiosk')[0];
    if (!kiosk || !this.channel.control({ kind: 'doc-still-request' }, [kiosk])) {
      this.say(t('documents.no_kiosk'));
      return;
    }
    this.say(t('documents.still_asked'));
  }

  /** @param {boolean} allowed */
  allowInterpreter(allowed) {
    this.interpreterSees = allowed;
    this.tellChoice();
  }

  async handFile() {
    const file = this.fileInput?.files?.[0];
    if (!file || !this.fileInput) return;
    this.fileInput.value = '';
    if (file.size > MAX_DOCUMENT) {
      this.say(refusalText('too_large'));
      return;
    }
    const bytes = new Uint8Array(await file.arrayBuffer());
    const refusal = refusalOf(bytes);
    if (refusal) {
      this.say(refusalText(refusal));
      return;
    }
    const kiosks = this.membersWith('kiosk');
    if (kiosks.length === 0) {
      this.say(t('documents.no_kiosk'));
      return;
    }
    const to = [...kiosks, ...(this.interpreterSees ? this.membersWith('interpreter') : [])];
    this.say(t('documents.sending'));
    try {
      await this.channel.send(bytes, 'handout', to);
      this.say(t('documents.handed'));
      this.dispatchEvent(new CustomEvent('sent', { detail: { purpose: 'handout' } }));
    } catch (error) {
      this.say(refusalText(/** @type {Error} */ (error).message));
    }
  }

  /** @param {string} from @param {Record<string, unknown>} message */
  async controlMessage(from, message) {
    const role = this.options.participants().get(from)?.role;
    if (message.kind === 'doc-share' && role === 'expert') {
      this.interpreterSees = message.interpreter === true;
    } else if (message.kind === 'doc-still-request' && this.options.role === 'kiosk' && (role === 'expert' || role === 'advisor')) {
      await this.sendStill(from);
    } else if (message.kind === 'doc-still-unavailable' && this.options.role !== 'kiosk') {
      this.say(t('documents.no_document_camera'));
    }
  }

  /** The kiosk: a still of the document camera to the expert (and whoever asked). @param {string} requester */
  async sendStill(requester) {
    const bytes = await this.options.still?.().catch(() => null);
    if (!bytes) {
      this.channel.control({ kind: 'doc-still-unavailable' }, [requester]);
      this.say(t('documents.no_document_camera'));
      return;
    }
    const to = [...new Set([requester, ...this.membersWith('expert'), ...(this.interpreterSees ? this.membersWith('interpreter') : [])])];
    this.say(t('documents.still_sending'));
    try {
      await this.channel.send(bytes, 'still', to);
      this.say(t('documents.still_sent'));
    } catch (error) {
      this.say(refusalText(/** @type {Error} */ (error).message));
    }
  }

  /** @param {ReceivedDocument} document */
  received(document) {
    this.viewer?.destroy();
    const from = this.options.label(document.from);
    const title = t(document.purpose === 'still' ? 'documents.still_title' : 'documents.handout_title', { from });
    /** @type {HTMLElement[]} */
    const actions = [];
    const viewer = new DocumentViewer(document, { title, actions, onClose: () => this.closeViewer() });
    if (this.options.role === 'kiosk' && document.purpose === 'handout') {
      actions.push(
        h('button', { type: 'button', class: 'document-action', 'data-action': 'print', onclick: () => viewer.print() }, t('documents.print')),
      );
      viewer.element.querySelector('.document-tools')?.prepend(...actions);
      if (this.options.email) viewer.element.append(this.emailForm(document));
    }
    this.viewer = viewer;
    this.viewerArea.replaceChildren(viewer.element);
    this.container.dataset.showing = document.purpose;
    this.say(title);
    this.dispatchEvent(new CustomEvent('shown', { detail: document }));
  }

  /**
   * The kiosk's e-mail form: the address typed is used for this one
   * message and not kept (the field is emptied once sent).
   * @param {ReceivedDocument} document
   */
  emailForm(document) {
    const input = /** @type {HTMLInputElement} */ (
      h('input', { type: 'email', id: 'documents-email', class: 'documents-email', autocomplete: 'off', required: true, maxlength: 254 })
    );
    const note = h('p', { class: 'documents-email-note' }, t('documents.email_note'));
    // Touch screens have no keyboard: the kiosk's own, with what an address needs.
    this.emailKeyboard?.destroy();
    this.emailKeyboard = new OnScreenKeyboard(input, {
      label: 'documents.email_keyboard',
      maxLength: 254,
      extra: EMAIL_KEYS,
      space: false,
      enterLabel: 'documents.email_send',
      onChange: () => {},
      onEnter: () => /** @type {HTMLFormElement} */ (form).requestSubmit(),
    });
    const form = h(
      'form',
      {
        class: 'documents-email-form',
        onsubmit: async (/** @type {Event} */ event) => {
          event.preventDefault();
          const address = input.value.trim();
          if (!address || !input.checkValidity()) {
            this.say(t('documents.email_invalid'));
            return;
          }
          this.say(t('documents.email_sending'));
          try {
            await this.options.email?.(document, address);
            input.value = '';
            this.say(t('documents.email_sent'));
          } catch (error) {
            const code = /** @type {{code?: string}} */ (error).code;
            this.say(code === 'invalid_email' ? t('documents.email_invalid') : t('documents.email_failed'));
          }
        },
      },
      h('label', { for: 'documents-email' }, t('documents.email_label')),
      input,
      h('button', { type: 'submit', class: 'documents-email-send' }, t('documents.email_send')),
      note,
      this.emailKeyboard.element,
    );
    return form;
  }

  closeViewer() {
    this.emailKeyboard?.destroy();
    this.emailKeyboard = null;
    this.viewer?.destroy();
    this.viewer = null;
    delete this.container.dataset.showing;
  }

  /** The call ended: every document goes with it. */
  destroy() {
    window.clearTimeout(this.sayTimer);
    this.channel.destroy();
    this.closeViewer();
    this.container.replaceChildren();
  }
}
