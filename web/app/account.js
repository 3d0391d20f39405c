// The account view: who is signed in, the quota, settings (password, the
// display name on share pages), the sessions (each sign-in is its own
// session; this one, another, or all can be ended) and the app passwords
// for WebDAV (app-passwords.js).
import { call } from './api.js';
import { h, icon, icons, replace } from './dom.js';
import { errorText, formatSize, formatTime, t } from './i18n.js';
import { confirmDialog, toast } from './dialogs.js';
import { appPasswordsCard, loadAppPasswords } from './app-passwords.js';

/**
 * Fills `container`. `onSignOut()` ends this session, `onSignedOut()` is for
 * when the server already ended it (sign out everywhere, or this session
 * revoked from the list). Throws when the user could not be loaded, so the
 * caller shows its retry.
 */
export async function renderAccount(container, { user, onSignOut, onSignedOut, heading }) {
  const [sessions, appPasswords] = await Promise.all([
    call('/v1/user/sessions', {}).then((result) => ({ list: (result && result.list) || [] })),
    loadAppPasswords(),
  ]);
  const rerender = () => renderAccount(container, { user, onSignOut, onSignedOut, heading }).catch((error) => toast(errorText(error), 'error'));
  const used = Number(user.spaceUsed) || 0;
  const total = Number(user.spaceCapacity) || 0;
  const signOutAll = async () => {
    const ok = await confirmDialog({ title: t('account.signOutAllConfirm'), message: t('account.signOutAllText'), ok: t('account.signOutAll'), danger: true });
    if (!ok) return;
    try {
      await call('/v1/user/logoutAll', {});
      onSignedOut();
    } catch (error) {
      toast(errorText(error), 'error');
    }
  };
  const revoke = async (session) => {
    try {
      await call('/v1/user/sessions/revoke', { id: session.id });
      if (session.current) return onSignedOut();
      toast(t('account.revoked'));
    } catch (error) {
      toast(errorText(error), 'error');
    }
    rerender();
  };

  // The display name is what people opening this user's share links see
  // (never the login name); empty clears it (api.md §8).
  const displayName = h('input', { type: 'text', id: 'display-name', name: 'display-name', maxlength: 64, autocomplete: 'nickname',
    value: user.displayName || '', placeholder: t('account.displayNameNone') });
  const displayError = h('p', { class: 'error', id: 'display-name-error', role: 'alert' });
  const displaySave = h('button', { type: 'submit', class: 'button', id: 'display-name-save' }, icon(icons.check), t('account.displayNameSave'));
  const displayForm = h('form', { class: 'display-name-form', onsubmit: async (event) => {
    event.preventDefault();
    replace(displayError);
    displaySave.disabled = true;
    try {
      const updated = await call('/v1/user/displayName', { displayName: displayName.value.trim() });
      user.displayName = (updated && updated.displayName) || null;
      displayName.value = user.displayName || '';
      toast(t('account.displayNameSaved'));
    } catch (error) {
      replace(displayError, errorText(error));
    } finally {
      displaySave.disabled = false;
    }
  } },
  h('label', { for: 'display-name', class: 'visually-hidden' }, t('account.displayName')),
  h('div', { class: 'display-name-row' }, displayName, displaySave),
  h('p', { class: 'muted' }, t('account.displayNameHelp')),
  displayError);

  const sessionList = h('ul', { class: 'sessions', id: 'sessions' }, sessions.list.map((session) =>
    h('li', { class: 'session' + (session.current ? ' current' : ''), dataset: { id: String(session.id), current: String(Boolean(session.current)) } },
      h('div', { class: 'session-main' },
        h('div', { class: 'session-device', title: session.device || '' }, session.device || t('account.unknownDevice'),
          session.current ? h('span', { class: 'badge' }, t('account.thisDevice')) : null),
        h('div', { class: 'session-meta muted' },
          [session.address, t('account.lastSeen', { time: formatTime(session.lastSeenAt) }), t('account.signedIn', { time: formatTime(session.createdAt) })]
            .filter(Boolean).join(' · '))),
      h('button', { type: 'button', class: 'button', dataset: { action: 'revoke' }, onclick: () => revoke(session) },
        icon(icons.logout), h('span', { class: 'label' }, t('nav.signout'))))));

  // Change password: the server ends every other session and hands this one a
  // new token, which api() stores, so the app goes on as it was.
  const current = h('input', { id: 'password-current', type: 'password', autocomplete: 'current-password', required: true });
  const fresh = h('input', { id: 'password-new', type: 'password', autocomplete: 'new-password', required: true });
  const again = h('input', { id: 'password-again', type: 'password', autocomplete: 'new-password', required: true });
  const passwordError = h('p', { class: 'error', id: 'password-error', role: 'alert' });
  const passwordSubmit = h('button', { type: 'submit', class: 'button primary', id: 'password-submit' }, t('account.passwordSubmit'));
  const passwordForm = h('form', { class: 'settings-form', id: 'password-form', onsubmit: async (event) => {
    event.preventDefault();
    replace(passwordError);
    if (fresh.value.length < 8) return replace(passwordError, t('account.passwordShort'));
    if (fresh.value !== again.value) return replace(passwordError, t('account.passwordMismatch'));
    passwordSubmit.disabled = true;
    try {
      await call('/v1/user/changePassword', { oldPassword: current.value, newPassword: fresh.value });
      toast(t('account.passwordChanged'));
      rerender();
    } catch (error) {
      replace(passwordError, errorText(error));
      passwordSubmit.disabled = false;
      current.select();
    }
  } },
  h('label', { for: 'password-current' }, t('account.currentPassword')), current,
  h('label', { for: 'password-new' }, t('account.newPassword')), fresh,
  h('label', { for: 'password-again' }, t('account.againPassword')), again,
  passwordError, h('div', {}, passwordSubmit));


  replace(container,
    h('div', { class: 'toolbar' }, heading),
    h('section', { class: 'card account', id: 'account' },
      h('div', { class: 'account-user' },
        h('div', { class: 'avatar', 'aria-hidden': 'true' }, (user.name || '?').slice(0, 1).toUpperCase()),
        h('div', { class: 'account-who' },
          h('div', { class: 'account-name', id: 'account-name', title: user.name || '' }, user.name || ''),
          h('div', { class: 'muted' }, t('quota.text', { used: formatSize(used), total: formatSize(total) })),
          h('meter', { min: 0, max: Math.max(total, 1), value: used, high: total * 0.9, optimum: 0, 'aria-hidden': 'true' }))),
      h('div', { class: 'account-buttons' },
        h('button', { type: 'button', class: 'button', id: 'account-signout', onclick: onSignOut }, icon(icons.logout), t('nav.signout')),
        h('button', { type: 'button', class: 'button danger', id: 'account-signout-all', onclick: signOutAll }, icon(icons.logout), t('account.signOutAll')))),
    h('section', { class: 'card', id: 'settings-password' },
      h('h2', {}, t('account.password')),
      passwordForm),
    h('section', { class: 'card', id: 'display-name-card' },
      h('h2', {}, t('account.displayName')),
      displayForm),
    h('section', { class: 'card' },
      h('h2', {}, t('account.sessions')),
      sessionList),
    appPasswordsCard(appPasswords, { user, rerender }));
}
