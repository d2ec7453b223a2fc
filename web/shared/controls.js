// In-call toggles shared by the desk apps: microphone, camera, screen share.

import { t } from './i18n.js';
import { announce, showError } from './ui.js';

/**
 * @param {() => import('./session.js').RoomSession | null} current the session now
 * @param {{mute?: HTMLElement | null, camera?: HTMLElement | null, screen?: HTMLElement | null}} buttons
 */
export function wireCallControls(current, buttons) {
  /** @type {MediaStream | null} */
  let screen = null;
  const pressed = (/** @type {HTMLElement} */ button) => button.getAttribute('aria-pressed') === 'true';
  buttons.mute?.addEventListener('click', () => {
    const session = current();
    const button = /** @type {HTMLElement} */ (buttons.mute);
    if (!session) return;
    const muted = !pressed(button);
    session.media.setAudioEnabled(!muted);
    button.setAttribute('aria-pressed', String(muted));
    announce(t(muted ? 'controls.muted' : 'controls.unmuted'));
  });
  buttons.camera?.addEventListener('click', () => {
    const session = current();
    const button = /** @type {HTMLElement} */ (buttons.camera);
    if (!session) return;
    const off = !pressed(button);
    session.media.setVideoEnabled(!off);
    button.setAttribute('aria-pressed', String(off));
    announce(t(off ? 'controls.camera_off' : 'controls.camera_on'));
  });
  const stopScreen = async () => {
    await current()?.media.setSecondSource(null);
    screen?.getTracks().forEach((track) => track.stop());
    screen = null;
    buttons.screen?.setAttribute('aria-pressed', 'false');
    announce(t('controls.screen_off'));
  };
  buttons.screen?.addEventListener('click', async () => {
    const session = current();
    if (!session) return;
    if (screen) return stopScreen();
    try {
      screen = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
      const track = screen.getVideoTracks()[0] ?? null;
      track?.addEventListener('ended', () => stopScreen());
      await session.media.setSecondSource(track);
      buttons.screen?.setAttribute('aria-pressed', 'true');
      announce(t('controls.screen_on'));
    } catch (error) {
      screen = null;
      showError({ code: 'screen_share', error });
    }
  });
  /** Resets the toggles for a new session. */
  return () => {
    screen?.getTracks().forEach((track) => track.stop());
    screen = null;
    for (const button of [buttons.mute, buttons.camera, buttons.screen]) button?.setAttribute('aria-pressed', 'false');
  };
}
