// Booking for the staff apps (advisor and expert): a form that searches free
// slots (agency, service, service point, language, optional interpreter
// language) and books one with the citizen's contact for the confirmation
// and reminder; the same form moves a booked appointment to another free
// time. Cancelling is a call of its own (`cancelAppointment`).
//
// The booking API's refusals arrive as problem+json codes (ApiError.code);
// they are shown in the viewer's language next to the form, and a slot that
// was taken meanwhile refreshes the free times.

import { directory } from './directory.js';
import { TIME_ZONE, formatDateTime, formatTime, language, t } from './i18n.js';
import { announce, h } from './ui.js';

/** Free times shown at first, and added by "show later times". */
const SLOTS_PER_PAGE = 12;
/** Days a search covers from its first date (the API allows up to 31). */
const SEARCH_DAYS = 14;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const PHONE = /^\+\d{8,15}$/;

/** @typedef {ReturnType<typeof import('./api.js').bookingApi>} BookingApi */
/** @typedef {import('../types/booking-api').Appointment} Appointment */
/** @typedef {import('../types/booking-api').Contact} Contact */
/** @typedef {import('../types/booking-api').NewAppointment} NewAppointment */
/** @typedef {import('../types/booking-api').Slot} Slot */

/**
 * The message for an error in the viewer's language: `error.<code>` when
 * the catalogue has one, otherwise the generic message with the code.
 * @param {unknown} error
 */
export function errorMessage(error) {
  const code = error && typeof error === 'object' && 'code' in error ? String(error.code) : 'internal';
  const key = `error.${code}`;
  return t(key) === key ? t('error.generic', { code }) : t(key);
}

/** A start and its date, short: "ti 12.5. klo 10.00". @param {string} value */
export function appointmentTime(value) {
  return formatDateTime(value, { weekday: 'short', day: 'numeric', month: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/** Today in the service points' time zone, `YYYY-MM-DD`. */
export function today() {
  return new Intl.DateTimeFormat('en-CA', { timeZone: TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
}

/** @param {string} date `YYYY-MM-DD` @param {number} days */
function addDays(date, days) {
  const [year, month, day] = date.split('-').map(Number);
  return new Date(Date.UTC(year, month - 1, day + days)).toISOString().slice(0, 10);
}

/** A fresh Idempotency-Key. */
function newKey() {
  return globalThis.crypto?.randomUUID?.() ?? `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

/** @param {string} key @param {string} forId */
function label(key, forId) {
  return h('label', { for: forId, 'data-i18n': key }, t(key));
}

/**
 * Cancels a booked appointment.
 * @param {BookingApi} api
 * @param {Appointment} appointment
 */
export async function cancelAppointment(api, appointment) {
  const cancelled = await api.post(`/appointments/${encodeURIComponent(appointment.id)}/cancel`);
  announce(t('booking.cancelled', describe(cancelled)));
  return cancelled;
}

/**
 * The actions of one booked appointment in a staff list: any `leading`
 * buttons (the advisor's check-in), reschedule and cancel; cancel asks once
 * more in the row itself. `confirming` says whether it is asking now.
 * @param {{appointment: Appointment, api: BookingApi, panel: BookingPanel | null, confirming: boolean, setConfirming: (id: string | null) => void, reload: () => Promise<void>, focus: (id: string, action: string) => void, leading?: HTMLElement[], className?: string}} options
 */
export function appointmentActions(options) {
  const { appointment, confirming, setConfirming, focus } = options;
  const className = options.className ?? 'row-actions';
  if (confirming) {
    const cancel = async () => {
      setConfirming(null);
      try {
        await cancelAppointment(options.api, appointment);
      } catch (error) {
        announce(errorMessage(error));
      }
      await options.reload();
    };
    const keep = () => {
      setConfirming(null);
      focus(appointment.id, 'cancel');
    };
    return h('div', { class: `confirm ${className}`, role: 'group', 'aria-label': t('booking.confirm_cancel') },
      h('span', {}, t('booking.confirm_cancel')),
      h('button', { type: 'button', class: 'danger primary', 'data-action': 'confirm-cancel', onclick: cancel }, t('booking.confirm_yes')),
      h('button', { type: 'button', 'data-action': 'keep', onclick: keep }, t('booking.confirm_no')),
    );
  }
  const ask = () => {
    setConfirming(appointment.id);
    focus(appointment.id, 'confirm-cancel');
  };
  return h('div', { class: className },
    ...(options.leading ?? []),
    h('button', { type: 'button', 'data-action': 'reschedule', onclick: () => options.panel?.reschedule(appointment) }, t('booking.reschedule')),
    h('button', { type: 'button', class: 'danger', 'data-action': 'cancel', onclick: ask }, t('booking.cancel')),
  );
}

/** The parameters that describe an appointment in messages. @param {Appointment} appointment */
function describe(appointment) {
  return {
    time: appointmentTime(appointment.starts_at),
    agency: directory.agencyName(appointment.agency),
    service: directory.serviceName(appointment.service),
    point: directory.pointName(appointment.service_point),
    kiosk: directory.kioskName(appointment.kiosk),
  };
}

/**
 * The booking form inside a section of the page (`root`, which holds it
 * entirely). The advisor books for their own service point (`servicePoint`);
 * an expert for their own agency (`agency`) at a service point they pick,
 * optionally only when they are free themselves (`self`).
 */
export class BookingPanel {
  /**
   * @param {{
   *   api: BookingApi,
   *   root: HTMLElement,
   *   servicePoint?: string,
   *   agency?: string,
   *   self?: string,
   *   onChanged: (appointment: Appointment) => void,
   * }} options
   */
  constructor(options) {
    this.api = options.api;
    this.root = options.root;
    this.fixedPoint = options.servicePoint ?? '';
    this.fixedAgency = options.agency ?? '';
    this.self = options.self ?? '';
    this.onChanged = options.onChanged;
    /** @type {Appointment | null} the appointment being moved */
    this.moving = null;
    /** @type {Slot[]} */
    this.slots = [];
    this.shown = SLOTS_PER_PAGE;
    /** @type {string | null} the search the slots answer */
    this.searched = null;
    /** @type {string | null} kept across retries of one booking */
    this.idempotencyKey = null;
    this.busy = false;
    const select = (/** @type {string} */ id, /** @type {boolean} */ required = true) =>
      /** @type {HTMLSelectElement} */ (h('select', { id, required }));
    this.agency = select('booking-agency');
    this.point = select('booking-point');
    this.service = select('booking-service');
    this.language = select('booking-language');
    this.interpreter = select('booking-interpreter', false);
    this.from = /** @type {HTMLInputElement} */ (h('input', { id: 'booking-from', type: 'date', required: true, value: today(), min: today() }));
    this.mine = /** @type {HTMLInputElement} */ (h('input', { id: 'booking-mine', type: 'checkbox', checked: true }));
    this.email = /** @type {HTMLInputElement} */ (
      h('input', { id: 'booking-email', type: 'email', autocomplete: 'off', inputmode: 'email', maxlength: 254, 'aria-describedby': 'booking-contact-hint booking-email-error' })
    );
    this.phone = /** @type {HTMLInputElement} */ (
      h('input', { id: 'booking-phone', type: 'tel', autocomplete: 'off', inputmode: 'tel', maxlength: 24, 'aria-describedby': 'booking-phone-hint booking-phone-error' })
    );
    this.title = h('h2', { id: 'booking-title' });
    this.summary = h('p', { id: 'booking-summary', hidden: true });
    this.slotList = h('div', { id: 'booking-slot-list', class: 'booking-slots' });
    this.more = h('button', { type: 'button', id: 'booking-more', hidden: true, 'data-i18n': 'booking.more', onclick: () => this.showMore() }, t('booking.more'));
    this.slotsNote = h('p', { id: 'booking-slots-note', class: 'muted' });
    this.slotsBox = h('fieldset', { id: 'booking-slots', hidden: true },
      h('legend', { 'data-i18n': 'booking.slots' }, t('booking.slots')),
      this.slotsNote,
      this.slotList,
      this.more,
    );
    this.error = h('p', { id: 'booking-error', class: 'booking-error', role: 'alert' });
    this.result = h('p', { id: 'booking-result', class: 'status-line', role: 'status' });
    this.submit = /** @type {HTMLButtonElement} */ (h('button', { type: 'submit', id: 'booking-submit', class: 'primary' }));
    this.keep = h('button', { type: 'button', id: 'booking-keep', hidden: true, 'data-i18n': 'booking.keep', onclick: () => this.stopMoving() }, t('booking.keep'));
    this.choices = h('div', { class: 'booking-grid' },
      this.fixedAgency ? null : h('div', { class: 'field' }, label('booking.agency', 'booking-agency'), this.agency),
      this.fixedPoint ? null : h('div', { class: 'field' }, label('booking.point', 'booking-point'), this.point),
      h('div', { class: 'field' }, label('booking.service', 'booking-service'), this.service),
      h('div', { class: 'field' }, label('booking.language', 'booking-language'), this.language),
      h('div', { class: 'field' }, label('booking.interpreter', 'booking-interpreter'), this.interpreter),
    );
    this.contact = h('fieldset', { id: 'booking-contact' },
      h('legend', { 'data-i18n': 'booking.contact' }, t('booking.contact')),
      h('p', { id: 'booking-contact-hint', class: 'muted', 'data-i18n': 'booking.contact_hint' }, t('booking.contact_hint')),
      h('div', { class: 'booking-grid' },
        h('div', { class: 'field' },
          label('booking.email', 'booking-email'),
          this.email,
          h('p', { id: 'booking-email-error', class: 'booking-error' })),
        h('div', { class: 'field' },
          label('booking.phone', 'booking-phone'),
          h('span', { id: 'booking-phone-hint', class: 'muted', 'data-i18n': 'booking.phone_hint' }, t('booking.phone_hint')),
          this.phone,
          h('p', { id: 'booking-phone-error', class: 'booking-error' })),
      ),
    );
    this.build();
    directory.addEventListener('change', () => this.render());
  }

  /** Lays the form out in `root` and wires its controls. */
  build() {
    const form = h('form', { id: 'booking-form', novalidate: true, 'aria-labelledby': 'booking-title' },
      this.summary,
      this.choices,
      h('div', { class: 'actions' },
        h('div', { class: 'field' }, label('booking.from', 'booking-from'), this.from),
        this.self
          ? h('div', { class: 'field inline' }, this.mine, label('booking.with_me', 'booking-mine'))
          : null,
        h('button', { type: 'button', id: 'booking-search', 'data-i18n': 'booking.search', onclick: () => this.search() }, t('booking.search')),
      ),
      this.slotsBox,
      this.contact,
      this.error,
      h('div', { class: 'actions' }, this.submit, this.keep),
      this.result,
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.book();
    });
    // Another choice makes the listed times and a pending retry stale.
    this.agency.addEventListener('change', () => this.fillServices());
    this.point.addEventListener('change', () => this.clearSlots());
    this.service.addEventListener('change', () => this.fillLanguages());
    for (const element of [this.language, this.interpreter, this.from, this.mine]) element.addEventListener('change', () => this.clearSlots());
    for (const element of [this.email, this.phone]) element.addEventListener('input', () => (this.idempotencyKey = null));
    this.root.replaceChildren(this.title, form);
    this.render();
  }

  /** Texts and choices in the current language (also after the directory loads). */
  render() {
    this.title.textContent = t(this.moving ? 'booking.title_reschedule' : 'booking.title_new');
    this.submit.textContent = t(this.moving ? 'booking.reschedule_submit' : 'booking.submit');
    this.keep.hidden = !this.moving;
    this.contact.hidden = Boolean(this.moving);
    this.choices.hidden = Boolean(this.moving);
    this.summary.hidden = !this.moving;
    if (this.moving) this.summary.textContent = t('booking.moving', describe(this.moving));
    fillSelect(this.agency, directory.agencyList().map((agency) => [agency.code, directory.agencyName(agency.code)]));
    fillSelect(this.point, directory.pointList().map((point) => [point.id, directory.pointName(point.id)]));
    fillSelect(this.interpreter, [['', t('booking.no_interpreter')], ...directory.interpreterLanguages().map((lang) => [lang, t(`lang.${lang}`)])]);
    this.fillServices(false);
    this.renderSlots();
  }

  /** The agency the form books for. */
  chosenAgency() {
    return this.moving?.agency ?? (this.fixedAgency || this.agency.value);
  }

  chosenPoint() {
    return this.moving?.service_point ?? (this.fixedPoint || this.point.value);
  }

  fillServices(clear = true) {
    const services = directory.remoteServicesOf(this.chosenAgency());
    fillSelect(this.service, services.map((service) => [service.id, directory.serviceName(service.id)]));
    this.fillLanguages(clear);
  }

  fillLanguages(clear = true) {
    const service = directory.services.get(this.service.value);
    fillSelect(this.language, (service?.languages ?? []).map((lang) => [lang, t(`lang.${lang}`)]));
    // The viewer's own language first, when the service has it.
    if (clear && service?.languages.includes(language())) this.language.value = language();
    if (clear) this.clearSlots();
  }

  clearSlots() {
    this.slots = [];
    this.searched = null;
    this.idempotencyKey = null;
    this.renderSlots();
  }

  /** The slot search of the form's current choices. */
  query() {
    const from = this.from.value || today();
    return {
      agency: this.chosenAgency(),
      service: this.moving?.service ?? this.service.value,
      service_point: this.chosenPoint(),
      language: this.moving?.language ?? this.language.value,
      interpreter_language: this.moving ? this.moving.interpreter_language : this.interpreter.value || null,
      from,
      to: addDays(from, SEARCH_DAYS - 1),
    };
  }

  async search() {
    this.showError('');
    this.result.textContent = '';
    const query = this.query();
    if (!query.agency || !query.service || !query.service_point || !query.language) {
      this.showError(t('booking.choose_all'));
      return;
    }
    if (!/^\d{4}-\d{2}-\d{2}$/.test(query.from)) {
      this.showError(t('error.invalid_date'));
      this.from.focus();
      return;
    }
    try {
      /** @type {Slot[]} */
      const slots = await this.api.get('/slots', query);
      const now = Date.now();
      this.slots = slots.filter(
        (slot) => new Date(slot.starts_at).getTime() > now && (!this.self || !this.mine.checked || slot.experts.includes(this.self)),
      );
      this.searched = JSON.stringify(query);
      this.shown = SLOTS_PER_PAGE;
      this.idempotencyKey = null;
      this.renderSlots();
      announce(this.slots.length === 0 ? t('booking.no_slots', { date: formatDateTime(`${query.from}T12:00:00Z`, { dateStyle: 'medium' }) }) : t('booking.slots_found', { count: this.slots.length }));
    } catch (error) {
      this.showError(errorMessage(error));
    }
  }

  showMore() {
    this.shown += SLOTS_PER_PAGE;
    this.renderSlots();
    const first = /** @type {HTMLInputElement | null} */ (this.slotList.querySelectorAll('input')[this.shown - SLOTS_PER_PAGE] ?? null);
    first?.focus();
  }

  renderSlots() {
    this.slotsBox.hidden = this.searched === null;
    const chosen = this.chosenSlot();
    const visible = this.slots.slice(0, this.shown);
    this.slotsNote.textContent = this.slots.length === 0
      ? t('booking.no_slots', { date: formatDateTime(`${this.from.value || today()}T12:00:00Z`, { dateStyle: 'medium' }) })
      : '';
    this.slotList.replaceChildren(
      ...visible.map((slot, index) => {
        const id = `booking-slot-${index}`;
        const radio = h('input', { type: 'radio', name: 'booking-slot', id, value: slot.starts_at, checked: slot.starts_at === chosen });
        radio.addEventListener('change', () => (this.idempotencyKey = null));
        return h('div', { class: 'booking-slot', 'data-starts-at': slot.starts_at },
          radio,
          h('label', { for: id }, `${appointmentTime(slot.starts_at)}–${formatTime(slot.ends_at)}`));
      }),
    );
    this.more.hidden = this.slots.length <= this.shown;
  }

  /** @returns {string} the chosen slot's start, or '' */
  chosenSlot() {
    const checked = /** @type {HTMLInputElement | null} */ (this.slotList.querySelector('input[name="booking-slot"]:checked') ?? null);
    return checked?.value ?? '';
  }

  /** @param {string} text */
  showError(text) {
    this.error.textContent = text;
  }

  /** Checks the contact fields; returns the contact or null (with the errors shown). */
  contactOrNull() {
    const email = this.email.value.trim();
    const phone = this.phone.value.replace(/[\s\-()]/g, '');
    const emailOk = email === '' || EMAIL.test(email);
    const phoneOk = phone === '' || PHONE.test(phone);
    markField(this.email, 'booking-email-error', emailOk ? '' : t('booking.invalid_email'));
    markField(this.phone, 'booking-phone-error', phoneOk ? '' : t('booking.invalid_phone'));
    if (!emailOk) this.email.focus();
    else if (!phoneOk) this.phone.focus();
    if (!emailOk || !phoneOk) return null;
    return { email: email || null, phone: phone || null };
  }

  async book() {
    if (this.busy) return;
    this.showError('');
    this.result.textContent = '';
    const startsAt = this.chosenSlot();
    if (!startsAt) {
      this.showError(t('booking.choose_slot'));
      return;
    }
    const moving = this.moving;
    const contact = moving ? null : this.contactOrNull();
    if (!moving && !contact) return;
    this.busy = true;
    this.submit.disabled = true;
    try {
      let appointment;
      if (moving) {
        appointment = await this.api.post(`/appointments/${encodeURIComponent(moving.id)}/reschedule`, { starts_at: startsAt });
        this.result.textContent = t('booking.rescheduled', describe(appointment));
      } else if (contact) {
        const query = this.query();
        const slot = this.slots.find((candidate) => candidate.starts_at === startsAt);
        /** @type {NewAppointment} */
        const body = {
          agency: query.agency,
          service: query.service,
          service_point: query.service_point,
          starts_at: startsAt,
          language: query.language,
          interpreter_language: query.interpreter_language,
          contact,
        };
        if (this.self && this.mine.checked && slot?.experts.includes(this.self)) body.expert = this.self;
        // The same key on a retry: a booking that did reach the server is not made twice.
        this.idempotencyKey ??= newKey();
        appointment = await this.api.post('/appointments', body, { 'Idempotency-Key': this.idempotencyKey });
        this.result.textContent = t('booking.booked', describe(appointment));
        this.email.value = '';
        this.phone.value = '';
      }
      announce(this.result.textContent ?? '');
      this.idempotencyKey = null;
      this.moving = null;
      this.slots = [];
      this.searched = null;
      this.render();
      if (appointment) this.onChanged(appointment);
    } catch (error) {
      const code = error && typeof error === 'object' && 'code' in error ? String(error.code) : '';
      if (code === 'slot_unavailable' || code === 'slot_taken' || code === 'expert_unavailable') {
        // Somebody else took the time: show what is free now.
        await this.search();
        this.showError(t('booking.slot_gone'));
      } else if (code === 'invalid_email' || code === 'invalid_phone') {
        const [input, id] = code === 'invalid_email' ? [this.email, 'booking-email-error'] : [this.phone, 'booking-phone-error'];
        markField(input, id, t(`booking.${code}`));
        input.focus();
        this.showError(errorMessage(error));
      } else {
        this.showError(errorMessage(error));
      }
      announce(this.error.textContent ?? '');
    } finally {
      this.busy = false;
      this.submit.disabled = false;
    }
  }

  /**
   * Moves a booked appointment: the form keeps its agency, service, point
   * and languages and searches free times from its day on.
   * @param {Appointment} appointment
   */
  reschedule(appointment) {
    this.moving = appointment;
    this.from.value = today();
    this.slots = [];
    this.searched = null;
    this.idempotencyKey = null;
    this.showError('');
    this.result.textContent = '';
    this.render();
    this.root.scrollIntoView?.({ block: 'start' });
    /** @type {HTMLElement | null} */ (this.root.querySelector('#booking-search'))?.focus();
    this.search();
  }

  stopMoving() {
    this.moving = null;
    this.clearSlots();
    this.showError('');
    this.render();
  }
}

/**
 * Replaces a select's options, keeping the choice when it is still offered.
 * @param {HTMLSelectElement} select
 * @param {string[][]} options value and label pairs
 */
function fillSelect(select, options) {
  const chosen = select.value;
  select.replaceChildren(...options.map(([value, text]) => h('option', { value }, text)));
  if (options.some(([value]) => value === chosen)) select.value = chosen;
}

/**
 * Marks an input (in)valid with its message element.
 * @param {HTMLInputElement} input
 * @param {string} messageId
 * @param {string} message empty when valid
 */
function markField(input, messageId, message) {
  const element = document.getElementById(messageId);
  if (element) element.textContent = message;
  if (message) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
}
