// Modal dialogs on <dialog>: focus is kept inside, Escape cancels, Enter submits.
import { h, icon, icons, replace } from './dom.js';
import { t, errorText } from './i18n.js';
import { call } from './api.js';

function open(content, { className = '', onCancel } = {}) {
  const dialog = h('dialog', { class: 'dialog ' + className }, content);
  document.body.append(dialog);
  dialog.addEventListener('close', () => dialog.remove());
  dialog.addEventListener('cancel', () => onCancel && onCancel());
  dialog.showModal();
  return dialog;
}

/** Asks for a name; resolves to the trimmed text, or null when cancelled. */
export function promptDialog({ title, label, value = '', ok = t('action.ok') }) {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (answer) => { if (!settled) { settled = true; resolve(answer); } dialog.close(); };
    const input = h('input', { type: 'text', name: 'value', value, required: true, autocomplete: 'off', spellcheck: 'false' });
    const form = h('form', { method: 'dialog', onsubmit: (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (text) finish(text);
    } },
    h('h2', {}, title),
    h('label', {}, h('span', {}, label), input),
    h('div', { class: 'dialog-buttons' },
      h('button', { type: 'button', class: 'button', onclick: () => finish(null) }, t('action.cancel')),
      h('button', { type: 'submit', class: 'button primary' }, ok)));
    const dialog = open(form, { onCancel: () => finish(null) });
    dialog.addEventListener('close', () => finish(null));
    // Select the name without its extension, as file managers do.
    const dot = value.lastIndexOf('.');
    input.focus();
    input.setSelectionRange(0, dot > 0 ? dot : value.length);
  });
}

/** Yes/no; resolves to a boolean. */
export function confirmDialog({ title, message, ok = t('action.ok'), danger = false }) {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (answer) => { if (!settled) { settled = true; resolve(answer); } dialog.close(); };
    const okButton = h('button', { type: 'button', class: 'button ' + (danger ? 'danger' : 'primary'), onclick: () => finish(true) }, ok);
    const dialog = open(h('div', {},
      h('h2', {}, title),
      message ? h('p', {}, message) : null,
      h('div', { class: 'dialog-buttons' },
        h('button', { type: 'button', class: 'button', onclick: () => finish(false) }, t('action.cancel')),
        okButton)), { onCancel: () => finish(false) });
    dialog.addEventListener('close', () => finish(false));
    okButton.focus();
  });
}

/** Shows `content` (nodes) under `title` with one button; resolves when it is closed. */
export function noticeDialog({ title, content, ok = t('action.ok'), className = '' }) {
  return new Promise((resolve) => {
    const okButton = h('button', { type: 'button', class: 'button primary', onclick: () => dialog.close() }, ok);
    const dialog = open(h('div', {},
      h('h2', { class: 'wrap-anywhere' }, title),
      ...content,
      h('div', { class: 'dialog-buttons' }, okButton)), { className });
    dialog.addEventListener('close', () => resolve());
  });
}

/**
 * Replace / keep both / skip; resolves to {choice: 'overwrite'|'rename'|'skip', all}.
 * `note`, when given, says why the last choice failed; with `canReplace` false
 * (a folder on either side: the server never replaces one) Replace is not offered.
 */
export function conflictDialog(name, folder, { note = '', canReplace = true } = {}) {
  return new Promise((resolve) => {
    let settled = false;
    const all = h('input', { type: 'checkbox', id: 'conflict-all' });
    const finish = (choice) => { if (!settled) { settled = true; resolve({ choice, all: all.checked }); } dialog.close(); };
    const keep = h('button', { type: 'button', class: 'button primary', dataset: { choice: 'rename' }, onclick: () => finish('rename') }, t('conflict.keep'));
    const dialog = open(h('div', {},
      h('h2', { class: 'wrap-anywhere' }, t('conflict.title', { name })),
      h('p', { class: 'wrap-anywhere' }, t('conflict.text', { folder })),
      note ? h('p', { class: 'error conflict-note', role: 'alert' }, note) : null,
      h('label', { class: 'check' }, all, t('conflict.all')),
      h('div', { class: 'dialog-buttons' },
        h('button', { type: 'button', class: 'button', dataset: { choice: 'skip' }, onclick: () => finish('skip') }, t('conflict.skip')),
        h('button', { type: 'button', class: 'button', dataset: { choice: 'overwrite' }, disabled: !canReplace, onclick: () => finish('overwrite') }, t('conflict.replace')),
        keep)), { className: 'conflict', onCancel: () => finish('skip') });
    dialog.addEventListener('close', () => finish('skip'));
    keep.focus();
  });
}

/**
 * Browses the user's folders; resolves to the chosen folder's path, or null.
 * `excluded` paths (the items being moved) cannot be entered.
 */
export function folderPicker({ title, ok, start = '/', excluded = [] }) {
  return new Promise((resolve) => {
    let settled = false;
    let current = start;
    const finish = (answer) => { if (!settled) { settled = true; resolve(answer); } dialog.close(); };
    const crumbs = h('nav', { class: 'crumbs', 'aria-label': 'breadcrumbs' });
    const list = h('ul', { class: 'picker-list', role: 'list' });
    const error = h('p', { class: 'error', role: 'alert' });
    const load = async (path) => {
      replace(error);
      try {
        const result = await call('/v1/files/page', { path, type: 1, page: 1, pageSize: 999, orderBy: 6 });
        current = result.info.path;
        replace(crumbs, ...crumbTrail(current, (target) => load(target)));
        const folders = result.list.filter((node) => node.type === 1);
        replace(list, folders.length === 0 ? h('li', { class: 'muted' }, t('dialog.noFolders')) : folders.map((node) => {
          const blocked = excluded.some((path) => node.path === path || node.path.startsWith(path + '/'));
          return h('li', {}, h('button', {
            type: 'button', class: 'picker-item', disabled: blocked, dataset: { path: node.path },
            onclick: () => load(node.path),
          }, icon(icons.folder), node.name));
        }));
        const first = list.querySelector('button:not([disabled])');
        if (first) first.focus();
      } catch (failure) {
        replace(error, errorText(failure));
      }
    };
    const dialog = open(h('div', {},
      h('h2', {}, title), crumbs, list, error,
      h('div', { class: 'dialog-buttons' },
        h('button', { type: 'button', class: 'button', onclick: () => finish(null) }, t('action.cancel')),
        h('button', { type: 'button', class: 'button primary', id: 'picker-choose', onclick: () => finish(current) }, ok || t('dialog.pickHere')))),
    { className: 'picker', onCancel: () => finish(null) });
    dialog.addEventListener('close', () => finish(null));
    load(start);
  });
}

/**
 * Breadcrumb buttons for `path`: the root, then each folder on the way. On a
 * phone the CSS shows only root / … / parent / current (`collapsible` ones hide,
 * the ellipsis appears); long names are cut with the whole name as tooltip.
 */
export function crumbTrail(path, go) {
  const parts = path.split('/').filter(Boolean);
  const items = [h('button', { type: 'button', class: 'crumb crumb-root', title: t('files.root'), onclick: () => go('/') }, icon(icons.home), h('span', { class: 'crumb-text' }, t('files.root')))];
  const hidden = Math.max(0, parts.length - 2); // folders before the parent
  if (hidden > 0) {
    const target = '/' + parts.slice(0, hidden).join('/');
    items.push(h('span', { class: 'crumb-sep crumb-more', 'aria-hidden': 'true' }, '/'));
    items.push(h('button', { type: 'button', class: 'crumb crumb-more', title: target, 'aria-label': target, onclick: () => go(target) }, '…'));
  }
  parts.forEach((name, index) => {
    const target = '/' + parts.slice(0, index + 1).join('/');
    const collapsible = index < hidden ? ' collapsible' : '';
    items.push(h('span', { class: 'crumb-sep' + collapsible, 'aria-hidden': 'true' }, '/'));
    const last = index === parts.length - 1;
    items.push(h('button', { type: 'button', class: 'crumb' + collapsible, title: name, 'aria-current': last ? 'location' : null, onclick: () => go(target) }, h('span', { class: 'crumb-text' }, name)));
  });
  return items;
}

/** A short message in the corner; errors stay until dismissed or replaced. */
export function toast(message, kind = 'info') {
  let region = document.getElementById('toasts');
  if (!region) {
    region = h('div', { id: 'toasts', class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(region);
  }
  const item = h('div', { class: 'toast ' + kind, role: kind === 'error' ? 'alert' : null },
    h('span', {}, message),
    h('button', { type: 'button', class: 'icon-button', 'aria-label': t('action.close'), onclick: () => item.remove() }, icon(icons.close)));
  region.append(item);
  // Three at most: a burst of actions must not cover the page.
  while (region.children.length > 3) region.firstElementChild.remove();
  setTimeout(() => item.remove(), kind === 'error' ? 12000 : 4000);
}
