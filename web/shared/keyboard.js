// The kiosk's on-screen keyboard (its touch screens have no keyboard), in
// the page's language, for any text field: the live text's line, the
// e-mail address a document goes to. Keys type at the caret (at the end of
// a field that has none, such as an e-mail field); shift gives one capital.

import { language, onLanguageChange, t } from './i18n.js';
import { h } from './ui.js';

/**
 * Keyboard layouts by language: rows of keys (a letter key types its
 * character; shift gives capitals).
 * @type {Record<string, string[]>}
 */
export const LAYOUTS = {
  fi: ['1234567890+', 'qwertyuiopå', 'asdfghjklöä', 'zxcvbnm,.-?'],
  sv: ['1234567890+', 'qwertyuiopå', 'asdfghjklöä', 'zxcvbnm,.-?'],
  en: ['1234567890-', 'qwertyuiop', 'asdfghjkl\'', 'zxcvbnm,.?'],
  // Northern Sámi (the Finnish and Norwegian Sámi layout).
  se: ['1234567890+', 'ášertŧuiopå', 'asdfghjklöä', 'žzčcvbnmđŋ,.'],
};

/** The keys an e-mail address needs beyond the letters. */
export const EMAIL_KEYS = '@._-';

export class OnScreenKeyboard {
  /**
   * @param {HTMLInputElement | HTMLTextAreaElement} input the field it types into
   * @param {{label: string, maxLength: number, onChange: () => void, onEnter: () => void, extra?: string, space?: boolean, enterLabel?: string}} options
   *   `extra` keys on a row of their own; `space` false leaves out the space bar; `enterLabel` names the enter key's action
   */
  constructor(input, options) {
    this.input = input;
    this.options = options;
    this.shift = false;
    this.element = h('div', { class: 'osk', role: 'group', 'aria-label': t(options.label), 'data-i18n-attr': `aria-label=${options.label}` });
    this.render();
    this.stopRelabelling = onLanguageChange(() => this.render());
  }

  render() {
    const layout = LAYOUTS[language()] ?? LAYOUTS.fi;
    const key = (/** @type {string} */ character) => {
      const shown = this.shift ? character.toLocaleUpperCase(language()) : character;
      return h('button', { type: 'button', class: 'osk-key', 'data-key': character, onclick: () => this.type(shown) }, shown);
    };
    const special = (/** @type {string} */ name, /** @type {() => void} */ action, /** @type {Record<string, string>} */ extra = {}) =>
      h('button', { type: 'button', class: `osk-key osk-${name}`, 'data-key': name, onclick: action, ...extra }, t(name === 'enter' && this.options.enterLabel ? this.options.enterLabel : `text.key.${name}`));
    const rows = this.options.extra ? [...layout, this.options.extra] : layout;
    this.element.replaceChildren(
      ...rows.map((row) => h('div', { class: 'osk-row' }, ...[...row].map(key))),
      h(
        'div',
        { class: 'osk-row' },
        special('shift', () => {
          this.shift = !this.shift;
          this.render();
        }, { 'aria-pressed': String(this.shift) }),
        this.options.space === false ? null : special('space', () => this.type(' ')),
        special('backspace', () => this.erase()),
        special('enter', () => this.options.onEnter()),
      ),
    );
  }

  /** The caret of the field, or its end when it has none (an e-mail field). */
  caret() {
    const input = this.input;
    let start = null;
    let end = null;
    try {
      start = input.selectionStart;
      end = input.selectionEnd;
    } catch {
      // Fields without a selection API throw in some browsers.
    }
    return start === null ? null : { start, end: end ?? start };
  }

  /** An on-screen key: its character at the caret. @param {string} character */
  type(character) {
    const input = this.input;
    const caret = this.caret();
    const selected = caret ? caret.end - caret.start : 0;
    if (input.value.length - selected >= this.options.maxLength) return;
    if (caret) input.setRangeText(character, caret.start, caret.end, 'end');
    else input.value += character;
    if (this.shift) {
      this.shift = false;
      this.render();
    }
    this.options.onChange();
  }

  erase() {
    const input = this.input;
    const caret = this.caret();
    if (!caret) {
      input.value = input.value.slice(0, -1);
    } else {
      if (caret.start === caret.end && caret.start === 0) return;
      input.setRangeText('', caret.start === caret.end ? caret.start - 1 : caret.start, caret.end, 'end');
    }
    this.options.onChange();
  }

  destroy() {
    this.stopRelabelling();
    this.element.remove();
  }
}
