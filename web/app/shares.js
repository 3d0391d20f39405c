// Share links, the owner's side (issue #27, api.md §8): the Share dialog on a
// file or folder (make a link, copy it, see, change or revoke the node's other
// links) and the "My shares" view (every link with its counts; revoke several).
import { call } from './api.js';
import { h, icon, icons, replace } from './dom.js';
import { errorText, formatShortTime, formatTime, t } from './i18n.js';
import { confirmDialog, toast } from './dialogs.js';

const DAY_SECONDS = 86400;
const LIST_PAGE_SIZE = 20;

/**
 * Copies `text`. The Clipboard API needs a secure context and a recent click;
 * without it the link's own field is selected and the old copy command tried,
 * so the user can always press Ctrl+C themselves. `button`, when given, says
 * "Copied" for a moment (in a dialog a toast would be under its backdrop).
 * The messages say "link" unless others are given.
 */
export async function copyText(text, field, button, { copied: copiedText = t('share.copied'), manually = t('share.copyManually') } = {}) {
  let copied = false;
  try {
    await navigator.clipboard.writeText(text);
    copied = true;
  } catch { /* not allowed here: select it instead */ }
  if (!copied && field) {
    field.focus();
    field.select();
    try { copied = document.execCommand('copy'); } catch { copied = false; }
  }
  const message = copied ? copiedText : manually;
  if (button && button.closest('dialog')) {
    const label = button.querySelector('.label');
    if (copied && label && !button.dataset.copied) {
      button.dataset.copied = 'true';
      const before = label.textContent;
      label.textContent = message;
      setTimeout(() => { label.textContent = before; delete button.dataset.copied; }, 2000);
    } else if (!copied) {
      field && field.select();
    }
  } else {
    toast(message);
  }
}

/** A read-only field holding the link, and its Copy button. */
function linkField(share) {
  const field = h('input', { type: 'text', class: 'share-url', readonly: true, value: share.url, 'aria-label': t('share.link'), spellcheck: 'false',
    onfocus: () => field.select() });
  const copy = h('button', { type: 'button', class: 'button share-copy', title: t('share.copy'), onclick: () => copyText(share.url, field, copy) },
    icon(icons.copy), h('span', { class: 'label' }, t('share.copy')));
  return h('div', { class: 'share-link-row' }, field, copy);
}

/** The facts of a share, each a small labelled span (the view and the dialog show the same ones). */
function shareFacts(share) {
  const downloads = share.maxDownloads ? `${share.downloads} / ${share.maxDownloads}` : String(share.downloads);
  return [
    h('span', { class: 'share-state state-' + share.state, dataset: { state: share.state } }, t('share.state.' + share.state)),
    h('span', { class: 'share-fact share-password', dataset: { password: String(Boolean(share.hasPassword)) } },
      icon(icons.lock), share.hasPassword ? t('share.withPassword') : t('share.noPassword')),
    h('span', { class: 'share-fact share-expiry', title: share.expiresAt ? formatTime(share.expiresAt) : '' },
      icon(icons.clock), share.expiresAt ? t('share.expires', { time: formatTime(share.expiresAt) }) : t('share.noExpiry')),
    h('span', { class: 'share-fact share-downloads', dataset: { downloads: String(share.downloads), max: String(share.maxDownloads || '') } },
      icon(icons.download), t(downloads === '1' ? 'share.download1' : 'share.downloads', { n: downloads })),
    h('span', { class: 'share-fact share-views', dataset: { views: String(share.views) } }, icon(icons.eye), t(share.views === 1 ? 'share.view1' : 'share.views', { n: share.views })),
    share.allowDownload ? null : h('span', { class: 'share-fact share-preview-only' }, t('share.previewOnly')),
    h('span', { class: 'share-fact share-last', title: share.lastAccessAt ? formatTime(share.lastAccessAt) : '' },
      share.lastAccessAt ? t('share.lastAccess', { time: formatShortTime(share.lastAccessAt) }) : t('share.neverOpened')),
  ];
}

/** Asks, then revokes `shares`; resolves to true when they are gone. */
async function revoke(shares) {
  const ok = await confirmDialog({
    title: t('share.revokeConfirm', { count: shares.length }), message: t('share.revokeText'), ok: t('share.revoke'), danger: true,
  });
  if (!ok) return false;
  try {
    const result = await call('/v1/share/remove', { ids: shares.map((share) => share.id) });
    toast(t('share.revoked', { count: (result && result.removed) ?? shares.length }));
    return true;
  } catch (error) {
    toast(errorText(error), 'error');
    return false;
  }
}

/** The end of the day `value` (a date field's "yyyy-mm-dd") in local time, in Unix ms. */
function endOfDay(value) {
  const [year, month, day] = value.split('-').map(Number);
  return new Date(year, month - 1, day, 23, 59, 59).getTime();
}

/**
 * The create/edit form. With `share`, fields start from it and only what the
 * user changed is sent (api.md: an absent field is left as it is).
 * `onSaved(share)` gets the server's share object.
 */
function shareForm({ node, share, onSaved, onCancel }) {
  const editing = Boolean(share);
  const error = h('p', { class: 'error', id: 'share-error', role: 'alert' });
  const password = h('input', { type: 'text', id: 'share-password', name: 'share-password', maxlength: 128, autocomplete: 'off', spellcheck: 'false',
    placeholder: editing && share.hasPassword ? t('share.passwordKeep') : t('share.passwordNone') });
  const clearPassword = editing && share.hasPassword ? h('input', { type: 'checkbox', id: 'share-password-clear' }) : null;
  if (clearPassword) clearPassword.addEventListener('change', () => { password.disabled = clearPassword.checked; });

  const options = [
    editing ? ['keep', share.expiresAt ? t('share.expiryKeep', { time: formatTime(share.expiresAt) }) : t('share.expiryKeepNever')] : null,
    ['never', t('share.expiryNever')], ['1', t('share.expiryDay')], ['7', t('share.expiryDays', { n: 7 })],
    ['30', t('share.expiryDays', { n: 30 })], ['date', t('share.expiryDate')],
  ].filter(Boolean);
  const expiry = h('select', { id: 'share-expiry', name: 'share-expiry' }, options.map(([value, label]) => h('option', { value }, label)));
  expiry.value = editing ? 'keep' : 'never';
  const tomorrow = new Date(Date.now() + DAY_SECONDS * 1000);
  const isoDay = (date) => `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, '0')}-${String(date.getDate()).padStart(2, '0')}`;
  const date = h('input', { type: 'date', id: 'share-expiry-date', name: 'share-expiry-date', min: isoDay(new Date()), value: isoDay(tomorrow), hidden: true, 'aria-label': t('share.expiryDate') });
  expiry.addEventListener('change', () => { date.hidden = expiry.value !== 'date'; if (!date.hidden) date.focus(); });

  const maxDownloads = h('input', { type: 'number', id: 'share-max', name: 'share-max', min: 1, max: 1000000, step: 1, inputmode: 'numeric',
    placeholder: t('share.noLimit'), value: editing && share.maxDownloads ? String(share.maxDownloads) : '' });
  const previewOnly = h('input', { type: 'checkbox', id: 'share-preview-only', checked: editing ? !share.allowDownload : false });
  const submit = h('button', { type: 'submit', class: 'button primary', id: 'share-submit' }, icon(editing ? icons.check : icons.link), editing ? t('share.save') : t('share.create'));

  const body = () => {
    const out = {};
    if (clearPassword && clearPassword.checked) out.password = '';
    else if (password.value !== '') out.password = password.value;
    if (expiry.value === 'never') out.expiresIn = 0;
    else if (expiry.value === 'date') {
      if (!date.value) throw new Error(t('share.pickDate'));
      const at = endOfDay(date.value);
      if (at <= Date.now()) throw new Error(t('share.pastDate'));
      out.expiresAt = at;
    } else if (expiry.value !== 'keep') out.expiresIn = Number(expiry.value) * DAY_SECONDS;
    const max = maxDownloads.value.trim();
    if (max !== '') {
      const n = Number(max);
      if (!Number.isInteger(n) || n < 1 || n > 1000000) throw new Error(t('share.badLimit'));
      if (!editing || n !== share.maxDownloads) out.maxDownloads = n;
    } else if (editing && share.maxDownloads) out.maxDownloads = 0;
    const allow = !previewOnly.checked;
    if (!editing || allow !== share.allowDownload) out.allowDownload = allow;
    if (!editing && out.expiresIn === 0) delete out.expiresIn;
    return out;
  };

  const form = h('form', { class: 'share-form', id: 'share-form', dataset: { mode: editing ? 'edit' : 'create' }, onsubmit: async (event) => {
    event.preventDefault();
    replace(error);
    let fields;
    try { fields = body(); } catch (failure) { replace(error, failure.message); return; }
    submit.disabled = true;
    try {
      const saved = editing
        ? await call('/v1/share/update', { id: share.id, ...fields })
        : await call('/v1/share/create', { uuid: node.uuid, ...fields });
      onSaved(saved);
    } catch (failure) {
      replace(error, errorText(failure));
    } finally {
      submit.disabled = false;
    }
  } },
  h('h3', {}, editing ? t('share.editTitle') : t('share.newTitle')),
  h('div', { class: 'share-fields' },
    h('label', {}, h('span', {}, t('share.password')), password),
    clearPassword ? h('label', { class: 'check' }, clearPassword, t('share.passwordClear')) : null,
    h('label', {}, h('span', {}, t('share.expiry')), h('span', { class: 'share-expiry-row' }, expiry, date)),
    h('label', {}, h('span', {}, t('share.maxDownloads')), maxDownloads),
    h('label', { class: 'check' }, previewOnly, h('span', {}, t('share.previewOnlyLabel')))),
  error,
  h('div', { class: 'dialog-buttons' },
    h('button', { type: 'button', class: 'button', id: 'share-cancel', onclick: onCancel }, editing ? t('action.cancel') : t('action.close')),
    submit));
  return form;
}

/**
 * The Share dialog for `node` ({uuid, name, type}): its links so far, each with
 * Copy, Edit and Revoke, and the form for a new one (or, with `editId`, that
 * link's form). `onChange()` is called after anything was made, changed or revoked.
 */
export function shareDialog(node, { editId = null, onChange = () => {} } = {}) {
  const links = h('ul', { class: 'share-links', id: 'share-links', 'aria-live': 'polite' });
  const formSlot = h('div', { class: 'share-form-slot' });
  const dialog = h('dialog', { class: 'dialog share-dialog', id: 'share-dialog', dataset: { uuid: node.uuid } },
    h('h2', { class: 'wrap-anywhere' }, icon(node.type === 1 ? icons.folder : icons.file), t('share.title', { name: node.name })),
    links, formSlot);
  document.body.append(dialog);
  // Back (or any other navigation) leaves the view the dialog was opened from: it goes too.
  const leave = () => dialog.close();
  window.addEventListener('hashchange', leave);
  dialog.addEventListener('close', () => { window.removeEventListener('hashchange', leave); dialog.remove(); });
  let shares = [];
  let fresh = null; // the id just made: shown first, its link selected

  const showForm = (share) => {
    for (const item of links.querySelectorAll('.share-item')) item.classList.toggle('editing', Boolean(share) && item.dataset.id === share.id);
    replace(formSlot, shareForm({
      node, share,
      onSaved: (saved) => {
        // No toast: it would be under the dialog's backdrop; the new link is marked and selected instead.
        fresh = saved.id;
        onChange();
        refresh().then(() => showForm(null));
      },
      onCancel: () => (share ? showForm(null) : dialog.close()),
    }));
    const first = formSlot.querySelector('input');
    if (share && first) { first.focus(); formSlot.scrollIntoView({ block: 'nearest' }); }
  };

  const draw = () => {
    replace(links, shares.length === 0 ? h('li', { class: 'muted share-none' }, t('share.none')) : shares.map((share) =>
      h('li', { class: 'share-item' + (share.id === fresh ? ' fresh' : ''), dataset: { id: share.id, state: share.state } },
        linkField(share),
        h('div', { class: 'share-facts' }, shareFacts(share)),
        h('div', { class: 'share-item-buttons' },
          h('button', { type: 'button', class: 'button small share-edit', onclick: () => showForm(share) }, icon(icons.rename), t('share.edit')),
          h('button', { type: 'button', class: 'button small danger share-revoke', onclick: async () => {
            if (await revoke([share])) { onChange(); refresh(); showForm(null); }
          } }, icon(icons.trash), t('share.revoke'))))));
    const made = fresh && links.querySelector(`.share-item[data-id="${CSS.escape(fresh)}"] .share-url`);
    if (made) { made.focus(); made.select(); }
  };

  const refresh = async () => {
    try {
      const result = await call('/v1/share/list', { uuid: node.uuid, page: 1, pageSize: 100 });
      shares = (result && result.list) || [];
      draw();
    } catch (error) {
      replace(links, h('li', { class: 'error' }, errorText(error)));
    }
  };

  dialog.showModal();
  showForm(null);
  refresh().then(() => {
    const editing = editId && shares.find((share) => share.id === editId);
    if (editing) showForm(editing);
  });
  return dialog;
}

// MARK: My shares

/**
 * The "My shares" view in `container`: every link, newest first, a page at a
 * time, each with its state and counts, Copy, Open, Edit and Revoke; several
 * can be revoked at once. Throws when the first page could not be loaded, so
 * the caller shows its retry.
 */
export async function renderShares(container, { heading, page = 1 }) {
  const result = await call('/v1/share/list', { page, pageSize: LIST_PAGE_SIZE });
  const list = (result && result.list) || [];
  const total = Number(result && result.total) || 0;
  const pages = Math.max(1, Math.ceil(total / LIST_PAGE_SIZE));
  if (page > pages && page > 1) return renderShares(container, { heading, page: pages });
  const selected = new Set();
  const again = (at = page) => renderShares(container, { heading, page: at }).catch((error) => toast(errorText(error), 'error'));

  const count = h('span', { class: 'selection-count', id: 'shares-count' });
  const revokeSelected = h('button', { type: 'button', class: 'button danger', id: 'shares-revoke', title: t('share.revoke'), 'aria-label': t('share.revoke'), onclick: async () => {
    const chosen = list.filter((share) => selected.has(share.id));
    if (chosen.length && await revoke(chosen)) again();
  } }, icon(icons.trash), h('span', { class: 'label' }, t('share.revoke')));
  const bar = h('div', { class: 'selection-bar', role: 'toolbar' }, count, h('div', { class: 'toolbar-space' }), h('div', { class: 'actions' }, revokeSelected));
  const update = () => {
    count.textContent = selected.size ? t('selected', { count: selected.size }) : t('share.count', { count: total });
    bar.classList.toggle('has-selection', selected.size > 0);
    revokeSelected.disabled = selected.size === 0;
    for (const item of container.querySelectorAll('.share-row')) item.classList.toggle('selected', selected.has(item.dataset.id));
  };

  const row = (share) => {
    const check = h('input', { type: 'checkbox', class: 'share-check', 'aria-label': t('select.one', { name: share.name }), onchange: () => {
      if (check.checked) selected.add(share.id); else selected.delete(share.id);
      update();
    } });
    const field = h('input', { type: 'text', class: 'visually-hidden', tabindex: -1, readonly: true, value: share.url, 'aria-hidden': 'true' });
    const parent = share.path.slice(0, share.path.lastIndexOf('/')) || '/';
    return h('li', { class: 'share-row', dataset: { id: share.id, name: share.name, state: share.state, uuid: share.uuid, type: String(share.type) } },
      h('div', { class: 'share-row-check' }, check),
      h('div', { class: 'share-row-main' },
        h('div', { class: 'share-row-name', title: share.path }, icon(share.type === 1 ? icons.folder : icons.file), h('span', { class: 'name-text' }, share.name)),
        h('div', { class: 'share-row-path muted', title: share.path }, t('share.in', { folder: parent === '/' ? t('files.root') : parent })),
        h('div', { class: 'share-facts' }, shareFacts(share))),
      h('div', { class: 'share-row-buttons' },
        field,
        h('button', { type: 'button', class: 'button share-copy', title: t('share.copy'), 'aria-label': t('share.copy'), onclick: () => copyText(share.url, field) }, icon(icons.copy), h('span', { class: 'label' }, t('share.copy'))),
        h('a', { class: 'button share-open', href: share.url, target: '_blank', rel: 'noopener noreferrer', title: t('share.open'), 'aria-label': t('share.open') }, icon(icons.external), h('span', { class: 'label' }, t('share.open'))),
        h('button', { type: 'button', class: 'button share-edit', title: t('share.edit'), 'aria-label': t('share.edit'), onclick: () => {
          shareDialog({ uuid: share.uuid, name: share.name, type: share.type }, { editId: share.id, onChange: () => again() });
        } }, icon(icons.rename), h('span', { class: 'label' }, t('share.edit'))),
        h('button', { type: 'button', class: 'button danger share-revoke', title: t('share.revoke'), 'aria-label': t('share.revoke'), onclick: async () => {
          if (await revoke([share])) again();
        } }, icon(icons.trash), h('span', { class: 'label' }, t('share.revoke')))));
  };

  const content = list.length === 0
    ? h('div', { class: 'empty', id: 'empty' }, icon(icons.share), h('p', {}, t('share.emptyView')))
    : h('ul', { class: 'share-list', id: 'share-list' }, list.map(row));
  const pager = pages > 1
    ? h('nav', { class: 'pager', 'aria-label': t('page.label') },
      h('button', { type: 'button', class: 'button', id: 'page-prev', disabled: page <= 1, onclick: () => again(page - 1) }, t('page.prev')),
      h('span', { id: 'page-label' }, t('page.of', { page, pages })),
      h('button', { type: 'button', class: 'button', id: 'page-next', disabled: page >= pages, onclick: () => again(page + 1) }, t('page.next')))
    : null;
  replace(container, h('div', { class: 'toolbar' }, heading), list.length ? bar : null, content, pager);
  update();
}
