// The staff apps' "Sign out" button (a session from an identity provider).

import { signOut } from './auth.js';
import { t } from './i18n.js';
import { h } from './ui.js';

/** A "Sign out" button in the app bar. */
export function addSignOut() {
  const bar = document.querySelector('header.app-bar');
  if (!bar || document.getElementById('signout')) return;
  bar.append(h('button', { id: 'signout', type: 'button', class: 'secondary', onclick: () => signOut() }, t('signin.signout')));
}
