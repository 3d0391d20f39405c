// Pan's web app: sign in, browse, upload, download, organise. Plain ES
// modules; the page is built with DOM calls (dom.js), never from HTML strings.
import { call, login, logout, onUnauthorized, sessionToken } from './api.js';
import { h, icon, icons, replace } from './dom.js';
import { errorText, formatSize, formatTime, lang, t } from './i18n.js';
import { confirmDialog, crumbTrail, folderPicker, promptDialog, toast } from './dialogs.js';
import { Uploads } from './upload.js';

document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
document.title = t('app.name');

const root = document.getElementById('app');
const PAGE_SIZE = 50;
// orderBy codes of /v1/files/page (api.md §7): folders first, then the key.
const ORDERS = { 'name-asc': 6, 'name-desc': 4, 'time-desc': 14, 'time-asc': 16, 'size-desc': 8, 'size-asc': 10 };

const state = {
  user: null,
  view: 'files', // or 'bin'
  path: '/',
  page: 1,
  order: localStorage.getItem('pan.order') || 'name-asc',
  listing: null,
  selected: new Set(),
  loadId: 0,
};
if (!(state.order in ORDERS)) state.order = 'name-asc';

const uploads = new Uploads((item) => {
  if (state.view === 'files' && item.dir === state.path) scheduleRefresh();
  scheduleQuota();
});

let shell = null; // the signed-in layout's parts

// MARK: Routing — #/files/<path> and #/bin, so a reload stays where it was.

function parseRoute() {
  const hash = location.hash.replace(/^#/, '');
  if (hash === '/bin' || hash.startsWith('/bin?')) return { view: 'bin', path: '/' };
  let path = '/';
  if (hash.startsWith('/files')) {
    const rest = hash.slice('/files'.length).split('/').filter(Boolean).map((part) => {
      try { return decodeURIComponent(part); } catch { return part; }
    });
    path = '/' + rest.join('/');
  }
  return { view: 'files', path };
}

function routeFor(view, path) {
  if (view === 'bin') return '#/bin';
  return '#/files' + (path === '/' ? '' : path.split('/').map(encodeURIComponent).join('/'));
}

function go(view, path = '/') {
  const target = routeFor(view, path);
  if (location.hash === target) load();
  else location.hash = target;
}

window.addEventListener('hashchange', () => { if (state.user) load(); });

// MARK: Sign in

function showLogin(message) {
  shell = null;
  state.user = null;
  const name = h('input', { id: 'login-name', name: 'username', autocomplete: 'username', required: true, autofocus: true });
  const password = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const error = h('p', { class: 'error', id: 'login-error', role: 'alert' }, message || '');
  const submit = h('button', { type: 'submit', class: 'button primary wide', id: 'login-submit' }, t('login.submit'));
  const form = h('form', { class: 'login-card', onsubmit: async (event) => {
    event.preventDefault();
    replace(error);
    submit.disabled = true;
    submit.textContent = t('login.busy');
    try {
      state.user = await login(name.value.trim(), password.value);
      showApp();
    } catch (failure) {
      replace(error, errorText(failure));
      submit.disabled = false;
      submit.textContent = t('login.submit');
      password.select();
    }
  } },
  h('div', { class: 'brand big' }, h('img', { src: '/app/icon.svg', alt: '', width: 40, height: 40 }), h('span', {}, t('app.name'))),
  h('h1', {}, t('login.title')),
  h('label', { for: 'login-name' }, t('login.name')), name,
  h('label', { for: 'login-password' }, t('login.password')), password,
  error, submit);
  replace(root, h('main', { class: 'login' }, form));
  name.focus();
}

onUnauthorized(() => showLogin(t('err.UNAUTHORIZED')));

// MARK: The signed-in layout

function showApp() {
  const fileInput = h('input', { type: 'file', multiple: true, id: 'file-input', class: 'visually-hidden', tabindex: -1, onchange: () => {
    if (fileInput.files.length) uploads.add(Array.from(fileInput.files), state.path);
    fileInput.value = '';
  } });
  const quota = h('div', { class: 'quota', id: 'quota' });
  const content = h('main', { class: 'content', id: 'content', tabindex: -1 });
  const dropHint = h('div', { class: 'drop-hint', 'aria-hidden': 'true' });
  const navFiles = h('a', { href: '#/files', class: 'nav-link', id: 'nav-files' }, icon(icons.folder), t('nav.files'));
  const navBin = h('a', { href: '#/bin', class: 'nav-link', id: 'nav-bin' }, icon(icons.bin), t('nav.bin'));
  shell = { fileInput, quota, content, navFiles, navBin, dropHint };
  replace(root,
    h('header', { class: 'topbar' },
      h('a', { class: 'brand', href: '#/files' }, h('img', { src: '/app/icon.svg', alt: '', width: 28, height: 28 }), h('span', {}, t('app.name'))),
      h('div', { class: 'topbar-space' }),
      quota,
      h('span', { class: 'user-name', id: 'user-name' }, state.user.name || ''),
      h('button', { type: 'button', class: 'button ghost', id: 'sign-out', onclick: signOut }, icon(icons.logout), t('nav.signout'))),
    h('div', { class: 'layout' },
      h('nav', { class: 'sidebar', 'aria-label': t('app.name') }, navFiles, navBin),
      content),
    dropHint, fileInput, uploads.panel);
  renderQuota();
  setUpDragAndDrop(content, dropHint);
  load();
}

async function signOut() {
  await logout();
  history.replaceState(null, '', location.pathname);
  showLogin();
}

function renderQuota() {
  if (!shell || !state.user) return;
  const used = Number(state.user.spaceUsed) || 0;
  const total = Number(state.user.spaceCapacity) || 0;
  replace(shell.quota,
    h('meter', { min: 0, max: Math.max(total, 1), value: used, high: total * 0.9, optimum: 0, 'aria-label': t('quota.text', { used: formatSize(used), total: formatSize(total) }) }),
    h('span', { class: 'quota-text' }, t('quota.text', { used: formatSize(used), total: formatSize(total) })));
}

let quotaTimer = 0;
function scheduleQuota() {
  clearTimeout(quotaTimer);
  quotaTimer = setTimeout(async () => {
    try { state.user = await call('/v1/user/info', {}); renderQuota(); } catch { /* shown elsewhere */ }
  }, 300);
}

let refreshTimer = 0;
function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => load({ keepSelection: true }), 250);
}

function setUpDragAndDrop(zone, hint) {
  let depth = 0;
  const hasFiles = (event) => Array.from(event.dataTransfer?.types || []).includes('Files');
  const hide = () => { depth = 0; document.body.classList.remove('dragging'); };
  zone.addEventListener('dragenter', (event) => {
    if (!hasFiles(event) || state.view !== 'files') return;
    event.preventDefault();
    depth++;
    replace(hint, h('div', {}, icon(icons.upload), t('upload.drop', { folder: state.path })));
    document.body.classList.add('dragging');
  });
  zone.addEventListener('dragover', (event) => {
    if (!hasFiles(event) || state.view !== 'files') return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
  });
  zone.addEventListener('dragleave', () => { if (--depth <= 0) hide(); });
  zone.addEventListener('drop', (event) => {
    if (!hasFiles(event) || state.view !== 'files') return;
    event.preventDefault();
    hide();
    // Folders cannot be read as files: keep plain files only.
    const items = Array.from(event.dataTransfer.items || []);
    const files = Array.from(event.dataTransfer.files).filter((file, index) => {
      const entry = items[index] && items[index].webkitGetAsEntry && items[index].webkitGetAsEntry();
      return !entry || entry.isFile;
    });
    if (files.length) uploads.add(files, state.path);
  });
}

// MARK: Listing

async function load({ keepSelection = false } = {}) {
  if (!shell) return;
  const route = parseRoute();
  const changed = route.view !== state.view || route.path !== state.path;
  if (changed) state.page = 1;
  state.view = route.view;
  state.path = route.path;
  if (!keepSelection || changed) state.selected.clear();
  shell.navFiles.classList.toggle('active', state.view === 'files');
  shell.navBin.classList.toggle('active', state.view === 'bin');
  shell.navFiles.setAttribute('aria-current', state.view === 'files' ? 'page' : 'false');
  shell.navBin.setAttribute('aria-current', state.view === 'bin' ? 'page' : 'false');
  const id = ++state.loadId;
  if (!state.listing || changed) replace(shell.content, h('p', { class: 'muted loading' }, t('files.loading')));
  try {
    const body = state.view === 'bin'
      ? { recycle: 1, page: state.page, pageSize: PAGE_SIZE }
      : { path: state.path, page: state.page, pageSize: PAGE_SIZE, orderBy: ORDERS[state.order] };
    const listing = await call('/v1/files/page', body);
    if (id !== state.loadId) return;
    if (state.page > 1 && listing.list.length === 0 && listing.totalPage < state.page) {
      state.page = Math.max(1, listing.totalPage);
      return load({ keepSelection });
    }
    state.listing = listing;
    const present = new Set(listing.list.map((node) => node.uuid));
    for (const uuid of state.selected) if (!present.has(uuid)) state.selected.delete(uuid);
    render();
  } catch (error) {
    if (id !== state.loadId || !shell) return;
    if (error.code === 'FILE_NOT_FOUND' && state.view === 'files' && state.path !== '/') {
      toast(errorText(error), 'error');
      go('files', '/');
      return;
    }
    replace(shell.content, h('p', { class: 'error', role: 'alert' }, errorText(error)));
  }
}

function selectedNodes() {
  return (state.listing?.list || []).filter((node) => state.selected.has(node.uuid));
}

function render() {
  const listing = state.listing;
  const nodes = listing.list;
  const bin = state.view === 'bin';
  const selected = selectedNodes();
  const count = selected.length;
  const button = (id, label, glyph, action, { disabled = false, kind = '' } = {}) =>
    h('button', { type: 'button', class: 'button ' + kind, id, disabled, onclick: action }, icon(glyph), label);

  const heading = bin
    ? h('h1', { class: 'view-title' }, icon(icons.bin), t('nav.bin'))
    : h('nav', { class: 'crumbs', 'aria-label': 'breadcrumbs', id: 'crumbs' }, crumbTrail(state.path, (path) => go('files', path)));

  const actions = bin
    ? [
      button('action-restore', t('action.restore'), icons.restore, restoreSelected, { disabled: count === 0 }),
      button('action-purge', t('action.deleteForever'), icons.trash, purgeSelected, { disabled: count === 0, kind: 'danger' }),
    ]
    : [
      button('action-download', t('action.download'), icons.download, downloadSelected, { disabled: count === 0 || selected.some((n) => n.type === 1) }),
      button('action-rename', t('action.rename'), icons.rename, renameSelected, { disabled: count !== 1 }),
      button('action-move', t('action.move'), icons.move, () => transferSelected(false), { disabled: count === 0 }),
      button('action-copy', t('action.copy'), icons.copy, () => transferSelected(true), { disabled: count === 0 }),
      button('action-delete', t('action.delete'), icons.trash, deleteSelected, { disabled: count === 0, kind: 'danger' }),
    ];

  const toolbar = h('div', { class: 'toolbar' },
    heading,
    h('div', { class: 'toolbar-space' }),
    bin ? null : button('action-new-folder', t('action.newFolder'), icons.plus, newFolder),
    bin ? null : button('action-upload', t('action.upload'), icons.upload, () => shell.fileInput.click(), { kind: 'primary' }));

  const selectionBar = h('div', { class: 'selection-bar' + (count ? ' has-selection' : ''), role: 'toolbar', 'aria-label': t('selected', { count }) },
    h('span', { class: 'selection-count', id: 'selection-count' }, count ? t('selected', { count }) : t('page.items', { count: listing.totalCount })),
    h('div', { class: 'toolbar-space' }),
    actions);

  let content;
  if (nodes.length === 0) {
    content = h('div', { class: 'empty', id: 'empty' }, icon(bin ? icons.bin : icons.folder), h('p', {}, bin ? t('bin.empty') : t('files.empty')));
  } else {
    const allChecked = nodes.every((node) => state.selected.has(node.uuid));
    const selectAll = h('input', { type: 'checkbox', id: 'select-all', 'aria-label': t('select.all'), checked: allChecked, onchange: () => {
      if (selectAll.checked) nodes.forEach((node) => state.selected.add(node.uuid));
      else state.selected.clear();
      render();
    } });
    selectAll.indeterminate = !allChecked && nodes.some((node) => state.selected.has(node.uuid));
    content = h('table', { class: 'files', id: 'file-table' },
      h('thead', {}, h('tr', {},
        h('th', { class: 'col-check' }, selectAll),
        sortHeader('name', t('col.name'), bin),
        bin ? h('th', { class: 'col-location' }, t('col.location')) : null,
        sortHeader('size', t('col.size'), bin),
        sortHeader('time', t('col.time'), bin))),
      h('tbody', {}, nodes.map((node) => row(node, bin))));
  }

  const pager = listing.totalPage > 1
    ? h('nav', { class: 'pager', 'aria-label': 'pages' },
      h('button', { type: 'button', class: 'button', id: 'page-prev', disabled: state.page <= 1, onclick: () => { state.page--; load(); } }, t('page.prev')),
      h('span', { id: 'page-label' }, t('page.of', { page: state.page, pages: listing.totalPage })),
      h('button', { type: 'button', class: 'button', id: 'page-next', disabled: state.page >= listing.totalPage, onclick: () => { state.page++; load(); } }, t('page.next')))
    : null;

  const focused = document.activeElement && document.activeElement.id;
  replace(shell.content, toolbar, selectionBar, content, pager);
  if (focused && document.getElementById(focused) && !document.getElementById(focused).disabled) document.getElementById(focused).focus();
}

function sortHeader(key, label, bin) {
  const className = 'col-' + key;
  if (bin) return h('th', { class: className }, label);
  const [current, direction] = state.order.split('-');
  const active = current === key;
  const nextOrder = active ? `${key}-${direction === 'asc' ? 'desc' : 'asc'}` : `${key}-${key === 'name' ? 'asc' : 'desc'}`;
  return h('th', { class: className, 'aria-sort': active ? (direction === 'asc' ? 'ascending' : 'descending') : 'none' },
    h('button', { type: 'button', class: 'sort' + (active ? ' active' : ''), id: 'sort-' + key, onclick: () => {
      state.order = nextOrder;
      localStorage.setItem('pan.order', nextOrder);
      state.page = 1;
      load({ keepSelection: true });
    } }, label, active ? icon(direction === 'asc' ? icons.up : icons.downArrow, t(direction === 'asc' ? 'sort.asc' : 'sort.desc')) : null));
}

function row(node, bin) {
  const isDir = node.type === 1;
  const checked = state.selected.has(node.uuid);
  const toggle = h('input', { type: 'checkbox', checked, 'aria-label': t('select.one', { name: node.name }), onchange: () => {
    if (toggle.checked) state.selected.add(node.uuid); else state.selected.delete(node.uuid);
    render();
  } });
  const name = bin
    ? h('span', { class: 'name' }, icon(isDir ? icons.folder : icons.file), h('span', {}, node.name))
    : h('button', { type: 'button', class: 'name link', title: isDir ? t('action.open', { name: node.name }) : t('action.download'), onclick: () => {
      if (isDir) go('files', node.path); else download([node]);
    } }, icon(isDir ? icons.folder : icons.file), h('span', {}, node.name));
  const parent = node.path.slice(0, node.path.lastIndexOf('/')) || '/';
  return h('tr', {
    class: checked ? 'selected' : '', 'aria-selected': String(checked), dataset: { uuid: node.uuid, name: node.name, type: String(node.type) },
    onclick: (event) => {
      if (event.target.closest('button, input, a')) return;
      if (!(event.ctrlKey || event.metaKey)) state.selected.clear();
      if (checked && (event.ctrlKey || event.metaKey)) state.selected.delete(node.uuid); else state.selected.add(node.uuid);
      render();
    },
  },
  h('td', { class: 'col-check' }, toggle),
  h('td', { class: 'col-name' }, name),
  bin ? h('td', { class: 'col-location muted' }, parent) : null,
  h('td', { class: 'col-size' }, isDir ? '—' : formatSize(node.size)),
  h('td', { class: 'col-time' }, formatTime(node.mtime || node.ctime)));
}

// MARK: Actions

async function attempt(action, success) {
  try {
    const result = await action();
    if (success) toast(success(result));
    return result;
  } catch (error) {
    toast(errorText(error), 'error');
    return undefined;
  } finally {
    load({ keepSelection: true });
    scheduleQuota();
  }
}

async function newFolder() {
  const name = await promptDialog({ title: t('dialog.newFolder'), label: t('dialog.folderName'), ok: t('action.newFolder') });
  if (!name) return;
  await attempt(async () => {
    // createDirectory returns an existing folder as it is; say so instead of pretending.
    const taken = (state.listing?.list || []).some((node) => node.name === name);
    if (taken) throw Object.assign(new Error(), { code: 'FILE_AREADY_EXISTS' });
    return call('/v1/files/createDirectory', { path: state.path, name });
  }, () => t('done.folder', { name }));
}

async function renameSelected() {
  const [node] = selectedNodes();
  if (!node) return;
  const name = await promptDialog({ title: t('dialog.rename'), label: t('dialog.newName'), value: node.name, ok: t('action.rename') });
  if (!name || name === node.name) return;
  await attempt(() => call('/v1/files/rename', { uuid: node.uuid, name }), () => t('done.rename', { name }));
}

async function transferSelected(copying) {
  const nodes = selectedNodes();
  if (!nodes.length) return;
  const destination = await folderPicker({
    title: t(copying ? 'dialog.copyTo' : 'dialog.moveTo', { count: nodes.length }),
    ok: t(copying ? 'action.copy' : 'action.move'),
    start: state.path,
    excluded: nodes.filter((node) => node.type === 1).map((node) => node.path),
  });
  if (destination === null) return;
  await attempt(
    () => call(copying ? '/v1/files/copy' : '/v1/files/move', { uuid: nodes.map((node) => node.uuid), destPath: destination }),
    () => t(copying ? 'done.copy' : 'done.move', { count: nodes.length }),
  );
}

async function deleteSelected() {
  const nodes = selectedNodes();
  if (!nodes.length) return;
  const ok = await confirmDialog({ title: t('dialog.delete', { count: nodes.length }), ok: t('action.delete'), danger: true });
  if (!ok) return;
  await attempt(() => call('/v1/files/remove', { uuid: nodes.map((node) => node.uuid), recycle: 1 }),
    () => t('done.delete', { count: nodes.length }));
}

async function restoreSelected() {
  const nodes = selectedNodes();
  if (!nodes.length) return;
  await attempt(async () => {
    for (const node of nodes) await call('/v1/files/recycle', { uuid: node.uuid, recycle: 0 });
  }, () => t('done.restore', { count: nodes.length }));
}

async function purgeSelected() {
  const nodes = selectedNodes();
  if (!nodes.length) return;
  const ok = await confirmDialog({ title: t('dialog.deleteForever', { count: nodes.length }), ok: t('action.deleteForever'), danger: true });
  if (!ok) return;
  await attempt(() => call('/v1/files/remove', { uuid: nodes.map((node) => node.uuid) }),
    () => t('done.deleteForever', { count: nodes.length }));
}

function downloadSelected() {
  download(selectedNodes().filter((node) => node.type === 0));
}

/** Each file through its signed downloadAddress (the server names it in Content-Disposition). */
async function download(nodes) {
  for (const node of nodes) {
    try {
      const file = await call('/v1/files/get', { uuid: node.uuid });
      if (!file.downloadAddress) throw Object.assign(new Error(), { code: 'FILE_NOT_FOUND' });
      const link = h('a', { href: file.downloadAddress, download: node.name, class: 'visually-hidden' });
      document.body.append(link);
      link.click();
      link.remove();
      await new Promise((resolve) => setTimeout(resolve, 300));
    } catch (error) {
      toast(errorText(error), 'error');
    }
  }
}

// Keyboard: Delete → recycle bin, F2 → rename, Escape → clear the selection.
document.addEventListener('keydown', (event) => {
  if (!shell || document.querySelector('dialog[open]')) return;
  const target = event.target;
  if (target && (target.tagName === 'INPUT' && target.type !== 'checkbox' || target.tagName === 'TEXTAREA')) return;
  if (event.key === 'Delete' && state.selected.size) {
    event.preventDefault();
    (state.view === 'bin' ? purgeSelected : deleteSelected)();
  } else if (event.key === 'F2' && state.selected.size === 1 && state.view === 'files') {
    event.preventDefault();
    renameSelected();
  } else if (event.key === 'Escape' && state.selected.size) {
    state.selected.clear();
    render();
  }
});

// MARK: Start

async function start() {
  if (!sessionToken()) return showLogin();
  replace(root, h('p', { class: 'muted loading' }, t('files.loading')));
  try {
    state.user = await call('/v1/user/info', {});
    showApp();
  } catch (error) {
    if (!sessionToken()) return; // 401: the handler already showed the form
    replace(root, h('main', { class: 'login' }, h('p', { class: 'error', role: 'alert' }, errorText(error)),
      h('button', { type: 'button', class: 'button', onclick: start }, t('action.ok'))));
  }
}

start();
