// App passwords (issue #29, api.md §3): per-device passwords for WebDAV only,
// so a laptop or a NAS mounting Pan never holds the account's password. The
// account page's card lists them (name, created, last used), makes one — its
// password shown once, with the WebDAV address and user name to set it up —
// and revokes one (the device is refused at its next request).
import { call } from './api.js';
import { h, icon, icons, replace } from './dom.js';
import { errorText, formatTime, t } from './i18n.js';
import { confirmDialog, noticeDialog, toast } from './dialogs.js';
import { copyText } from './shares.js';

/** The caller's app passwords, newest first. */
export async function loadAppPasswords() {
  const result = await call('/v1/user/appPasswords', {});
  return (result && result.list) || [];
}

/** A read-only value with its Copy button (the password, the address, the user name). */
function copyField(id, label, value, messages, rowClass = '') {
  const field = h('input', { type: 'text', id, class: 'secret-value', readonly: true, value, spellcheck: 'false', autocomplete: 'off',
    onfocus: () => field.select() });
  const copy = h('button', { type: 'button', class: 'button secret-copy', dataset: { copies: id }, title: t('action.copy'),
    onclick: () => copyText(value, field, copy, messages) }, icon(icons.copy), h('span', { class: 'label' }, t('action.copy')));
  return [h('label', { for: id }, label), h('div', { class: ('share-link-row ' + rowClass).trim() }, field, copy)];
}

/** Shows a new app password once: the password, then the address and user name a WebDAV client asks for. */
function showCreated(made, user) {
  const davAddress = location.origin + '/dav/';
  const copied = { copied: t('appPasswords.copied'), manually: t('appPasswords.copyManually') };
  return noticeDialog({
    title: t('appPasswords.createdTitle', { name: made.name }),
    className: 'app-password-dialog',
    ok: t('appPasswords.done'),
    content: [
      h('p', { class: 'app-password-once' }, t('appPasswords.onceText')),
      h('div', { class: 'app-password-fields' },
        // Its own line on a phone: all of it readable, to type on another device.
        ...copyField('app-password-value', t('appPasswords.password'), made.password, copied, 'secret-row-wide'),
        ...copyField('app-password-dav', t('appPasswords.address'), davAddress, copied),
        ...copyField('app-password-user', t('appPasswords.user'), user.name || '', copied)),
      h('p', { class: 'muted' }, t('appPasswords.setupText')),
    ],
  });
}

/** The account page's card. `rerender()` draws the page again (after a change). */
export function appPasswordsCard(list, { user, rerender }) {
  const name = h('input', { type: 'text', id: 'app-password-name', name: 'app-password-name', maxlength: 64, autocomplete: 'off',
    required: true, placeholder: t('appPasswords.namePlaceholder') });
  const error = h('p', { class: 'error', id: 'app-password-error', role: 'alert' });
  const create = h('button', { type: 'submit', class: 'button primary', id: 'app-password-create', title: t('appPasswords.create') },
    icon(icons.plus), h('span', { class: 'label' }, t('appPasswords.create')));
  const form = h('form', { class: 'app-password-form', onsubmit: async (event) => {
    event.preventDefault();
    replace(error);
    const value = name.value.trim();
    if (!value) return replace(error, t('appPasswords.nameRequired'));
    create.disabled = true;
    try {
      const made = await call('/v1/user/appPassword/create', { name: value });
      await showCreated(made, user);
      rerender();
    } catch (failure) {
      replace(error, errorText(failure));
      create.disabled = false;
    }
  } },
  h('label', { for: 'app-password-name', class: 'visually-hidden' }, t('appPasswords.name')),
  h('div', { class: 'display-name-row' }, name, create),
  error);

  const revoke = async (item) => {
    const ok = await confirmDialog({
      title: t('appPasswords.revokeConfirm', { name: item.name }), message: t('appPasswords.revokeText'), ok: t('appPasswords.revoke'), danger: true,
    });
    if (!ok) return;
    try {
      await call('/v1/user/appPassword/revoke', { id: item.id });
      toast(t('appPasswords.revoked', { name: item.name }));
    } catch (failure) {
      toast(errorText(failure), 'error');
    }
    rerender();
  };

  const rows = list.length === 0
    ? h('p', { class: 'muted', id: 'app-passwords-empty' }, t('appPasswords.none'))
    : h('ul', { class: 'sessions', id: 'app-passwords' }, list.map((item) =>
      h('li', { class: 'session app-password', dataset: { id: item.id } },
        h('div', { class: 'session-main' },
          h('div', { class: 'session-device', title: item.name }, item.name),
          h('div', { class: 'session-meta muted' },
            [t('appPasswords.created', { time: formatTime(item.createdAt) }),
              item.lastUsedAt ? t('appPasswords.lastUsed', { time: formatTime(item.lastUsedAt) }) : t('appPasswords.neverUsed')].join(' · '))),
        h('button', { type: 'button', class: 'button', dataset: { action: 'revoke-app-password' }, title: t('appPasswords.revoke'), onclick: () => revoke(item) },
          icon(icons.trash), h('span', { class: 'label' }, t('appPasswords.revoke'))))));

  return h('section', { class: 'card', id: 'app-passwords-card' },
    h('h2', {}, t('appPasswords.title')),
    h('p', { class: 'muted app-passwords-help' }, t('appPasswords.help', { address: location.origin + '/dav/' })),
    form,
    rows);
}
