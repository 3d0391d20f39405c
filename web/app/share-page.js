// The public page of a share link, /s/<id> (issue #27, api.md §8), for people
// without an account. It loads nothing of the signed-in app (api.js keeps the
// session token; dialogs.js calls the API with it): the share id, and its
// password kept in memory only, are the only credentials. Nothing from the
// share is ever rendered as HTML: names go in as text, previews are <img>,
// <video>, <audio> or text in a <pre> (textContent), and the server serves
// previews only for those kinds (never HTML or SVG) with a sandboxing CSP.
import { h, icon, icons, replace } from './dom.js';
import { formatShortTime, formatSize, formatTime, lang, t } from './i18n.js';

document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
document.title = t('app.name');

const root = document.getElementById('share');
const shareId = (() => {
  const part = location.pathname.split('/')[2] || '';
  try { return decodeURIComponent(part); } catch { return part; }
})();
const PAGE_SIZE = 50;
/** A text preview shows at most this much of the file. */
const TEXT_PREVIEW_BYTES = 256 * 1024;
/** A grant this close to its end is renewed before it is used (page calls, download links). */
const GRANT_MARGIN_MS = 60 * 1000;

let password = '';
let opened = null; // the last /v1/share/open reply: {share, grant, grantExpiresAt, downloadAddress?, previewAddress?}
let folderPage = 1;

class ShareError extends Error {
  constructor(code, message, status, retryAfter = 0) {
    super(message || code);
    this.code = code;
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

/** POST to the public API: no token, no cookies. Resolves to `result`, or throws a ShareError. */
async function post(path, body) {
  let response;
  try {
    response = await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), credentials: 'omit' });
  } catch {
    throw new ShareError('NETWORK', '', 0);
  }
  let json = null;
  try { json = await response.json(); } catch { /* a proxy's error page */ }
  if (!response.ok || !json || json.success === false) {
    throw new ShareError((json && json.code) || 'HTTP_' + response.status, json && json.message, response.status,
      Number(response.headers.get('Retry-After')) || 0);
  }
  return json.result;
}

/** Opens the share (again): a new grant and fresh download addresses. */
async function open() {
  opened = await post('/v1/share/open', password ? { id: shareId, password } : { id: shareId });
  return opened;
}

/** `fn(grant)`, with a grant renewed first when it is about to end, and once more if the server refuses it. */
async function withGrant(fn) {
  if (!opened || Date.now() > opened.grantExpiresAt - GRANT_MARGIN_MS) await open();
  try {
    return await fn(opened.grant);
  } catch (error) {
    if (error.code !== 'SHARE_GRANT_INVALID') throw error;
    await open();
    return fn(opened.grant);
  }
}

/**
 * The server names its public URL in addresses; the page asks its own origin
 * for the same path, which the CSP (`'self'`) allows for images and media
 * whatever host the link was opened by.
 */
function local(address) {
  try {
    const url = new URL(address, location.href);
    return url.pathname + url.search;
  } catch {
    return address;
  }
}

// MARK: Pages

function layout(...children) {
  const header = document.querySelector('.share-topbar') || h('header', { class: 'topbar share-topbar' },
    h('span', { class: 'brand' }, h('img', { src: '/app/icon.svg', alt: '', width: 28, height: 28 }), h('span', {}, t('app.name'))));
  if (!header.isConnected) root.before(header);
  replace(root, ...children);
}

/** Dispatches a refusal of `open` (or of a later call) to its page. */
function showRefusal(error) {
  if (error.code === 'SHARE_NOT_FOUND') return showNotFound();
  if (error.code === 'SHARE_PASSWORD' || error.code === 'TOO_MANY_ATTEMPTS') {
    // A password sent and refused is a wrong one; none sent is the first visit (or the owner set one since).
    const wrong = error.code === 'SHARE_PASSWORD' && Boolean(password);
    password = '';
    return showPassword(error.code === 'TOO_MANY_ATTEMPTS' ? { wait: error.retryAfter || 60 } : { wrong });
  }
  return showFailure(error);
}

function showNotFound() {
  document.title = t('sharePage.notFound');
  layout(h('section', { class: 'card share-message', id: 'share-not-found' },
    h('div', { class: 'share-message-icon' }, icon(icons.link)),
    h('h1', {}, t('sharePage.notFound')),
    h('p', { class: 'muted' }, t('sharePage.notFoundText'))));
}

function showFailure(error) {
  const retry = h('button', { type: 'button', class: 'button', id: 'share-retry', onclick: start }, icon(icons.restore), t('action.retry'));
  layout(h('section', { class: 'card share-message', id: 'share-failed', role: 'alert' },
    h('h1', {}, t('sharePage.failed')),
    h('p', { class: 'muted' }, errorText(error)),
    retry));
}

function errorText(error) {
  if (error.code === 'NETWORK') return t('err.NETWORK');
  const key = 'sharePage.err.' + error.code;
  const text = t(key);
  return text === key ? t('err.unknown', { code: error.code }) : text;
}

/** The password form; `wrong` after a refused password, `wait` seconds after too many. */
function showPassword({ wrong = false, wait = 0 } = {}) {
  document.title = t('sharePage.passwordTitle');
  const input = h('input', { type: 'password', id: 'share-password-input', name: 'password', required: true, autocomplete: 'off', maxlength: 128 });
  const error = h('p', { class: 'error', id: 'share-password-error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'button primary wide', id: 'share-password-submit' }, t('sharePage.unlock'));
  const hold = (seconds) => {
    replace(error, t('sharePage.tooMany', { time: formatWait(seconds) }));
    error.dataset.kind = 'wait';
    submit.disabled = true;
    setTimeout(() => { submit.disabled = false; }, seconds * 1000);
  };
  if (wrong) { replace(error, t('sharePage.wrongPassword')); error.dataset.kind = 'wrong'; }
  if (wait) hold(wait);
  const form = h('form', { class: 'card share-message share-password', id: 'share-password-page', onsubmit: async (event) => {
    event.preventDefault();
    if (!input.value) return;
    submit.disabled = true;
    replace(error);
    delete error.dataset.kind;
    password = input.value;
    try {
      await open();
      render();
    } catch (failure) {
      password = '';
      submit.disabled = false;
      if (failure.code === 'SHARE_PASSWORD') {
        replace(error, t('sharePage.wrongPassword'));
        error.dataset.kind = 'wrong';
        input.select();
      } else if (failure.code === 'TOO_MANY_ATTEMPTS') {
        hold(failure.retryAfter || 60);
      } else if (failure.code === 'SHARE_NOT_FOUND') {
        showNotFound();
      } else {
        replace(error, errorText(failure));
      }
    }
  } },
  h('div', { class: 'share-message-icon' }, icon(icons.lock)),
  h('h1', {}, t('sharePage.passwordTitle')),
  h('p', { class: 'muted' }, t('sharePage.passwordText')),
  h('label', { for: 'share-password-input' }, t('sharePage.password')), input,
  error, submit);
  layout(form);
  input.focus();
}

function formatWait(seconds) {
  return seconds < 60 ? t('duration.s', { n: Math.ceil(seconds) }) : t('duration.m', { n: Math.ceil(seconds / 60) });
}

/** Who shared it, until when, how many downloads are left. */
function facts(share) {
  return h('p', { class: 'share-about muted', id: 'share-about' }, [
    share.owner ? h('span', { id: 'share-owner' }, t('sharePage.sharedBy', { name: share.owner })) : null,
    share.expiresAt ? h('span', { id: 'share-expires' }, t('sharePage.expires', { time: formatTime(share.expiresAt) })) : null,
    share.downloadsLeft != null && share.allowDownload ? h('span', {}, t('sharePage.downloadsLeft', { n: share.downloadsLeft })) : null,
    share.allowDownload ? null : h('span', { id: 'share-view-only' }, t('sharePage.viewOnly')),
  ].filter(Boolean));
}

/** What a preview can show: 'image', 'video', 'audio', 'pdf', 'text', or null (no previewAddress: not shown inline). */
function previewKind(item) {
  if (!item.previewAddress) return null;
  const mime = String(item.mime || '').toLowerCase();
  if (mime.includes('svg') || mime.includes('html') || mime.includes('xml')) return 'text'; // the server serves these as plain text, if at all
  if (mime.startsWith('image/')) return 'image';
  if (mime.startsWith('video/')) return 'video';
  if (mime.startsWith('audio/')) return 'audio';
  if (mime === 'application/pdf') return 'pdf';
  return 'text';
}

/** The preview of a file, or null. */
function preview(item) {
  const kind = previewKind(item);
  const address = kind && local(item.previewAddress);
  if (kind === 'image') return h('div', { class: 'share-preview', dataset: { kind } }, h('img', { src: address, alt: item.name, class: 'share-preview-image' }));
  if (kind === 'video') return h('div', { class: 'share-preview', dataset: { kind } }, h('video', { src: address, controls: true, preload: 'metadata', class: 'share-preview-media' }));
  if (kind === 'audio') return h('div', { class: 'share-preview', dataset: { kind } }, h('audio', { src: address, controls: true, preload: 'metadata' }));
  if (kind === 'pdf') {
    // A PDF opens in the browser's own viewer, in its own tab: never framed into this page.
    return h('div', { class: 'share-preview', dataset: { kind } },
      h('a', { class: 'button', href: address, target: '_blank', rel: 'noopener noreferrer', id: 'share-open-pdf' }, icon(icons.external), t('sharePage.openPdf')));
  }
  if (kind === 'text') {
    const text = h('pre', { class: 'share-preview-text', id: 'share-preview-text', tabindex: 0 }, t('files.loading'));
    const note = h('p', { class: 'muted share-preview-note' });
    loadText(address, text, note, item.size);
    return h('div', { class: 'share-preview', dataset: { kind } }, text, note);
  }
  return null;
}

/** The start of a text file, as text (textContent: nothing in it is ever markup). */
async function loadText(address, pre, note, size) {
  try {
    const response = await fetch(address, { credentials: 'omit', headers: { Range: `bytes=0-${TEXT_PREVIEW_BYTES - 1}` } });
    if (!response.ok) throw new ShareError('HTTP_' + response.status, '', response.status);
    const reader = response.body.getReader();
    const parts = [];
    let total = 0;
    while (total < TEXT_PREVIEW_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      total += value.length;
    }
    reader.cancel().catch(() => {});
    const bytes = new Uint8Array(Math.min(total, TEXT_PREVIEW_BYTES));
    let at = 0;
    for (const part of parts) {
      const piece = part.subarray(0, bytes.length - at);
      bytes.set(piece, at);
      at += piece.length;
      if (at >= bytes.length) break;
    }
    pre.textContent = new TextDecoder('utf-8').decode(bytes);
    if (size > TEXT_PREVIEW_BYTES) note.textContent = t('sharePage.textCut', { size: formatSize(TEXT_PREVIEW_BYTES) });
  } catch {
    pre.textContent = '';
    note.textContent = t('sharePage.noPreview');
  }
}

/**
 * A download link. Its address lasts as long as the grant it came with (1 h):
 * a click on an old one renews the grant first and follows the new address.
 * `fresh()` finds the item's address again after a renewal.
 */
function downloadLink(item, { id, compact = false, fresh }) {
  const link = h('a', {
    class: 'button ' + (compact ? 'small share-download-one' : 'primary share-download'), id, href: local(item.downloadAddress), download: item.name,
    title: t('action.downloadName', { name: item.name }), 'aria-label': t('action.downloadName', { name: item.name }),
    onclick: async (event) => {
      if (opened && Date.now() < opened.grantExpiresAt - GRANT_MARGIN_MS) return;
      event.preventDefault();
      try {
        await open();
        const address = await fresh();
        if (address) location.assign(local(address));
      } catch (error) {
        showRefusal(error);
      }
    },
  }, icon(icons.download), compact ? null : h('span', { class: 'label' }, t('action.download')));
  return link;
}

// MARK: A shared file

function renderFile() {
  const share = opened.share;
  document.title = `${share.name} · ${t('app.name')}`;
  const item = { name: share.name, mime: share.mime, size: share.size, previewAddress: opened.previewAddress, downloadAddress: opened.downloadAddress };
  const shown = preview(item);
  layout(h('section', { class: 'card share-file', id: 'share-file', dataset: { type: 'file' } },
    h('div', { class: 'share-head' },
      h('div', { class: 'share-head-icon' }, icon(icons.file)),
      h('div', { class: 'share-head-text' },
        h('h1', { class: 'share-name wrap-anywhere', id: 'share-name' }, share.name),
        h('p', { class: 'muted', id: 'share-size' }, [formatSize(share.size), share.modified ? formatTime(share.modified) : null].filter(Boolean).join(' · ')))),
    facts(share),
    shown || h('p', { class: 'muted share-no-preview', id: 'share-no-preview' }, t('sharePage.noPreview')),
    h('div', { class: 'share-actions' },
      item.downloadAddress ? downloadLink(item, { id: 'share-download', fresh: async () => opened.downloadAddress }) : null)));
}

// MARK: A shared folder

/** The path inside the share, from the hash: `#/a/b` (so Back and a reload stay where they were). */
function folderPath() {
  // `.` and `..` are dropped here as the server drops them: a hash cannot climb above the shared folder.
  const parts = location.hash.replace(/^#/, '').split('/').map((part) => {
    try { return decodeURIComponent(part); } catch { return part; }
  }).filter((part) => part && part !== '.' && part !== '..');
  return '/' + parts.join('/');
}

function goFolder(path) {
  const target = path === '/' ? '#/' : '#' + path.split('/').map(encodeURIComponent).join('/');
  folderPage = 1;
  if (location.hash === target || (path === '/' && !location.hash)) loadFolder();
  else location.hash = target;
}

window.addEventListener('hashchange', () => { if (opened && opened.share.type === 1) { folderPage = 1; loadFolder(); } });

/** Breadcrumbs from the shared folder (named by its own name) down: never above it. */
function crumbs(rootName, path) {
  const parts = path.split('/').filter(Boolean);
  const items = [h('button', { type: 'button', class: 'crumb crumb-share', title: rootName, onclick: () => goFolder('/') }, icon(icons.folder), h('span', { class: 'crumb-text' }, rootName))];
  const hidden = Math.max(0, parts.length - 2);
  if (hidden > 0) {
    const target = '/' + parts.slice(0, hidden).join('/');
    items.push(h('span', { class: 'crumb-sep crumb-more', 'aria-hidden': 'true' }, '/'));
    items.push(h('button', { type: 'button', class: 'crumb crumb-more', title: target, 'aria-label': target, onclick: () => goFolder(target) }, '…'));
  }
  parts.forEach((name, index) => {
    const target = '/' + parts.slice(0, index + 1).join('/');
    const collapsible = index < hidden ? ' collapsible' : '';
    items.push(h('span', { class: 'crumb-sep' + collapsible, 'aria-hidden': 'true' }, '/'));
    items.push(h('button', { type: 'button', class: 'crumb' + collapsible, title: name, 'aria-current': index === parts.length - 1 ? 'location' : null, onclick: () => goFolder(target) }, h('span', { class: 'crumb-text' }, name)));
  });
  if (parts.length === 0) items[0].setAttribute('aria-current', 'location');
  return items;
}

let folderLoad = 0;
async function loadFolder() {
  const id = ++folderLoad;
  const path = folderPath();
  const share = opened.share;
  let listing;
  try {
    listing = await withGrant((grant) => post('/v1/share/page', { id: shareId, grant, path, page: folderPage, pageSize: PAGE_SIZE }));
  } catch (error) {
    if (id !== folderLoad) return;
    // A folder gone (or a typed path that names none): back to the shared folder itself.
    if (['FILE_NOT_FOUND', 'NOT_A_DIRECTORY', 'INVALID_NAME', 'INVALID_PATH'].includes(error.code) && path !== '/') { goFolder('/'); return; }
    showRefusal(error);
    return;
  }
  if (id !== folderLoad) return;
  const pages = Math.max(1, Math.ceil((Number(listing.total) || 0) / PAGE_SIZE));
  if (folderPage > pages) { folderPage = pages; loadFolder(); return; }
  document.title = `${path === '/' ? share.name : path.slice(path.lastIndexOf('/') + 1)} · ${t('app.name')}`;
  const refind = (item) => async () => {
    const again = await post('/v1/share/page', { id: shareId, grant: opened.grant, path, page: folderPage, pageSize: PAGE_SIZE });
    const found = again.list.find((entry) => entry.path === item.path);
    return found && found.downloadAddress;
  };

  const row = (item) => {
    const isDir = item.type === 1;
    const previewable = !isDir && previewKind(item);
    const name = h('button', {
      type: 'button', class: 'name link', title: item.name,
      'aria-label': isDir ? t('action.open', { name: item.name }) : previewable ? t('sharePage.previewName', { name: item.name }) : item.name,
      disabled: !isDir && !previewable && !item.downloadAddress,
      onclick: () => {
        if (isDir) goFolder(item.path);
        else if (previewable) previewDialog(item, refind(item));
        else if (item.downloadAddress) rowLink.click();
      },
    }, icon(isDir ? icons.folder : icons.file), h('span', { class: 'name-text' }, item.name));
    const rowLink = !isDir && item.downloadAddress ? downloadLink(item, { compact: true, fresh: refind(item) }) : null;
    return h('tr', { dataset: { name: item.name, type: String(item.type), path: item.path } },
      h('td', { class: 'col-name' }, name),
      h('td', { class: 'col-size' }, isDir ? '—' : formatSize(item.size)),
      h('td', { class: 'col-time', title: formatTime(item.modified) },
        h('span', { class: 'time-long' }, formatTime(item.modified)), h('span', { class: 'time-short' }, formatShortTime(item.modified))),
      h('td', { class: 'col-actions' },
        previewable ? h('button', { type: 'button', class: 'button small share-preview-one', title: t('sharePage.preview'), 'aria-label': t('sharePage.previewName', { name: item.name }), onclick: () => previewDialog(item, refind(item)) }, icon(icons.eye)) : null,
        rowLink));
  };

  const list = listing.list.length === 0
    ? h('div', { class: 'empty', id: 'share-empty' }, icon(icons.folder), h('p', {}, t('sharePage.emptyFolder')))
    : h('table', { class: 'files share-table', id: 'share-table' },
      h('colgroup', {}, h('col', { class: 'col-name' }), h('col', { class: 'col-size' }), h('col', { class: 'col-time' }), h('col', { class: 'col-actions' })),
      h('thead', {}, h('tr', {},
        h('th', { class: 'col-name' }, t('col.name')), h('th', { class: 'col-size' }, t('col.size')),
        h('th', { class: 'col-time' }, t('col.time')), h('th', { class: 'col-actions' }, h('span', { class: 'visually-hidden' }, t('sharePage.actions'))))),
      h('tbody', {}, listing.list.map(row)));
  const pager = pages > 1
    ? h('nav', { class: 'pager', 'aria-label': t('page.label') },
      h('button', { type: 'button', class: 'button', id: 'share-page-prev', disabled: folderPage <= 1, onclick: () => { folderPage--; loadFolder(); } }, t('page.prev')),
      h('span', { id: 'share-page-label' }, t('page.of', { page: folderPage, pages })),
      h('button', { type: 'button', class: 'button', id: 'share-page-next', disabled: folderPage >= pages, onclick: () => { folderPage++; loadFolder(); } }, t('page.next')))
    : null;
  layout(h('section', { class: 'share-folder', id: 'share-folder', dataset: { type: 'folder', path } },
    h('div', { class: 'toolbar' }, h('nav', { class: 'crumbs', id: 'share-crumbs', 'aria-label': t('crumbs.label') }, crumbs(share.name, path))),
    facts(share),
    h('p', { class: 'muted share-count' }, t('page.items', { count: Number(listing.total) || 0 })),
    list, pager));
}

/** A file of a shared folder, shown in a dialog with its download. */
function previewDialog(item, fresh) {
  const dialog = h('dialog', { class: 'dialog share-preview-dialog', id: 'share-preview-dialog' },
    h('h2', { class: 'wrap-anywhere' }, item.name),
    h('p', { class: 'muted' }, formatSize(item.size)),
    preview(item),
    h('div', { class: 'dialog-buttons' },
      h('button', { type: 'button', class: 'button', id: 'share-preview-close', onclick: () => dialog.close() }, t('action.close')),
      item.downloadAddress ? downloadLink(item, { id: 'share-preview-download', fresh }) : null));
  document.body.append(dialog);
  dialog.addEventListener('close', () => dialog.remove());
  dialog.showModal();
}

// MARK: Start

function render() {
  if (opened.share.type === 1) loadFolder();
  else renderFile();
}

async function start() {
  layout(h('p', { class: 'muted loading' }, t('files.loading')));
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(shareId)) return showNotFound();
  try {
    await open();
  } catch (error) {
    showRefusal(error);
    return;
  }
  render();
}

start();
