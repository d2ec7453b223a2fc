// Call offers for experts and interpreters: `call_offered` shows an offer
// with accept and decline until it is taken, declined, withdrawn or expires.
// Service points and services are named from the booking directory.

import { directory } from './directory.js';
import { formatDuration, onLanguageChange, t } from './i18n.js';
import { announce, byId, h, showError } from './ui.js';

/** @typedef {import('../types/wire').CallOffered} CallOffered */

export class OfferList {
  /**
   * @param {import('./client.js').SignalClient} client
   * @param {HTMLElement} container
   * @param {(joined: import('../types/wire').RoomState) => void} onJoined called with the room snapshot after accepting
   */
  constructor(client, container, onJoined) {
    this.client = client;
    this.container = container;
    this.onJoined = onJoined;
    /** @type {Map<string, {offer: CallOffered, expires: number}>} */
    this.offers = new Map();
    client.on('call_offered', (offer) => this.add(offer));
    client.on('call_withdrawn', (message) => {
      if (this.offers.delete(message.room)) {
        announce(t('offer.withdrawn'));
        this.render();
      }
    });
    client.on('welcome', (welcome) => {
      this.offers.clear();
      for (const offer of welcome.offers ?? []) this.add(offer, false);
      this.render();
    });
    this.timer = window.setInterval(() => this.expire(), 1000);
    directory.addEventListener('change', () => this.render());
    onLanguageChange(() => this.render());
  }

  /** @param {CallOffered} offer @param {boolean} [loud] */
  add(offer, loud = true) {
    this.offers.set(offer.room, { offer, expires: Date.now() + offer.expires_in_seconds * 1000 });
    if (loud) {
      const service = offer.service ? ` ${t('offer.service_announce', { service: directory.serviceName(offer.service) })}` : '';
      announce(`${t(`offer.${offer.kind}.announce`, this.params(offer))}${service}`);
    }
    this.render();
  }

  /** @param {CallOffered} offer */
  params(offer) {
    return {
      point: directory.pointName(offer.service_point),
      language: offer.language ? t(`lang.${offer.language}`) : '–',
      waited: formatDuration(offer.waiting_seconds),
    };
  }

  expire() {
    let changed = false;
    for (const [room, entry] of this.offers) {
      if (entry.expires < Date.now()) {
        this.offers.delete(room);
        changed = true;
      }
    }
    if (changed) this.render();
  }

  render() {
    this.container.replaceChildren(
      ...[...this.offers.values()].map(({ offer }) =>
        h('section', { class: 'offer', 'data-offer': offer.room, 'data-kind': offer.kind, 'aria-label': t(`offer.${offer.kind}.title`) },
          h('h2', {}, t(`offer.${offer.kind}.title`)),
          offer.service
            ? h('p', { class: 'offer-service', 'data-service': offer.service }, t('offer.service', { service: directory.serviceName(offer.service) }))
            : null,
          h('p', {}, t('offer.details', this.params(offer))),
          h('div', { class: 'actions' },
            h('button', { type: 'button', class: 'primary', 'data-action': 'accept', onclick: () => this.accept(offer.room) }, t('offer.accept')),
            h('button', { type: 'button', 'data-action': 'decline', onclick: () => this.decline(offer.room) }, t('offer.decline')),
          ),
        ),
      ),
    );
  }

  /** @param {string} room */
  async accept(room) {
    try {
      const reply = await this.client.request({ type: 'call_accept', room });
      this.offers.delete(room);
      this.render();
      this.onJoined(reply.room);
    } catch (error) {
      this.offers.delete(room);
      this.render();
      showError(error);
    }
  }

  /** @param {string} room */
  async decline(room) {
    this.offers.delete(room);
    this.render();
    try {
      await this.client.request({ type: 'call_decline', room });
    } catch (error) {
      showError(error);
    }
  }
}

/**
 * The availability toggle of experts and interpreters (`#presence`,
 * `#presence-state`): only available people are offered calls. Presence
 * does not survive a new signaling session, so it is said again after a
 * reconnect. Returns the render function (for language changes).
 * @param {import('./client.js').SignalClient} client
 */
export function wirePresence(client) {
  let available = false;
  // While in a call the server counts the person as busy (no call is
  // offered to someone in one); the chosen status applies again after.
  let inCall = false;
  const button = byId('presence');
  const status = () => (inCall ? 'presence.is_busy' : available ? 'presence.is_available' : 'presence.is_away');
  const render = () => {
    button.setAttribute('aria-pressed', String(available));
    const state = byId('presence-state');
    state.textContent = t(status());
    state.dataset.status = inCall ? 'busy' : available ? 'available' : 'away';
  };
  /** @param {boolean} value */
  const set = async (value) => {
    await client.request({ type: 'presence_set', status: value ? 'available' : 'away' });
    available = value;
    render();
  };
  button.addEventListener('click', async () => {
    try {
      await set(!available);
      announce(t(status()));
    } catch (error) {
      showError(error);
    }
  });
  client.on('welcome', () => {
    if (available) set(true).catch(showError);
  });
  client.on('presence_changed', (message) => {
    const wasInCall = inCall;
    inCall = Boolean(message.in_call);
    render();
    if (wasInCall !== inCall) announce(t(status()));
  });
  render();
  return render;
}
