// Pan's web app: sign in, browse, upload, download, organise. Plain ES
// modules; the page is built with DOM calls (dom.js), never from HTML strings.
import { api, call, login, logout, onUnauthorized, register, registrationMode, sessionToken, setSessionToken } from './api.js';
import { h, icon, icons, replace } from './dom.js';
import { errorText, formatSize, formatTime, formatShortTime, lang, nameList, t } from './i18n.js';
import { confirmDialog, crumbTrail, folderPicker, promptDialog, toast } from './dialogs.js';
import { renderAccount } from './account.js';
import { renderShares, shareDialog } from './shares.js';
import { gatherAll, removeInBatches, withConflictChoices } from './batch.js';
import { Uploads } from './upload.js';
import { readDrop } from './folder-read.js';
import { openViewer, previewable } from './viewer.js';

document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
document.title = t('app.name');

const root = document.getElementById('app');
const PAGE_SIZE = 50;
// Most matches one search counts (NameSearch.maxMatches, api.md §6).
const SEARCH_CAP = 2000;
// orderBy codes of /v1/files/page (api.md §7): folders first, then the key.
const ORDERS = { 'name-asc': 6, 'name-desc': 4, 'time-desc': 14, 'time-asc': 16, 'size-desc': 8, 'size-asc': 10 };

const state = {
  user: null,
  view: 'files', // or 'shares', 'bin', 'account', 'search'
  path: '/',
  query: '', // the search view's name query
  reveal: null, // a node to select once its folder is shown ("Show in folder")
  page: 1,
  order: localStorage.getItem('pan.order') || 'name-asc',
  layout: localStorage.getItem('pan.layout') === 'grid' ? 'grid' : 'list', // the files view as a table or a grid of thumbnails
  listing: null,
  selected: new Set(),
  // Every item of the folder (or bin) is selected, across pages: actions gather them.
  everything: false,
  anchor: null, // the row a shift-click extends from
  loadId: 0,
  failed: null, // the error of the last load, while it stands
};
if (!(state.order in ORDERS)) state.order = 'name-asc';

const uploads = new Uploads((item) => {
  if (state.view === 'files' && item.dir === state.path) scheduleRefresh();
  scheduleQuota();
});

let shell = null; // the signed-in layout's parts

// MARK: Routing — #/files/<path>, #/shares, #/bin, #/account and #/search?q=<name>, so a reload stays where it was.

function parseRoute() {
  const hash = location.hash.replace(/^#/, '');
  if (hash === '/bin' || hash.startsWith('/bin?')) return { view: 'bin', path: '/' };
  if (hash === '/account') return { view: 'account', path: '/' };
  if (hash === '/shares') return { view: 'shares', path: '/' };
  if (hash.startsWith('/search?')) {
    const query = new URLSearchParams(hash.slice('/search?'.length)).get('q') || '';
    if (query.trim()) return { view: 'search', path: '/', query };
  }
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
  if (view === 'search') return '#/search?' + new URLSearchParams({ q: path });
  if (view === 'account') return '#/account';
  if (view === 'shares') return '#/shares';
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
  stopRetry();
  document.title = t('login.title');
  const name = h('input', { id: 'login-name', name: 'username', autocomplete: 'username', required: true, autofocus: true });
  const password = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const error = h('p', { class: 'error', id: 'login-error', role: 'alert' }, message || '');
  const submit = h('button', { type: 'submit', class: 'button primary wide', id: 'login-submit' }, t('login.submit'));
  const signUpSwitch = h('p', { class: 'login-switch', id: 'login-switch' });
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
  error, submit, signUpSwitch);
  replace(root, h('main', { class: 'login' }, form));
  name.focus();
  // The sign-up link only when the server takes sign-ups (PAN_REGISTRATION); #/signup/<code> opens the form.
  registrationMode().then((mode) => {
    if (mode === 'closed' || !form.isConnected) return;
    const invited = location.hash.match(/^#\/signup(?:\/([^/?#]*))?/);
    if (invited) return showSignUp(mode, invited[1] ? decodeURIComponent(invited[1]) : '');
    replace(signUpSwitch, h('button', { type: 'button', class: 'link-button', id: 'signup-link', onclick: () => showSignUp(mode, '') }, t('login.signupLink')));
  });
}

/** Sign-up: a name, a password twice, and in invite mode the invite code. */
function showSignUp(mode, code) {
  document.title = t('signup.title');
  const name = h('input', { id: 'signup-name', name: 'username', autocomplete: 'username', required: true, maxlength: 64 });
  const password = h('input', { id: 'signup-password', type: 'password', autocomplete: 'new-password', required: true });
  const again = h('input', { id: 'signup-again', type: 'password', autocomplete: 'new-password', required: true });
  const invite = mode === 'invite' ? h('input', { id: 'signup-code', autocomplete: 'off', required: true, spellcheck: 'false', value: code || '' }) : null;
  const error = h('p', { class: 'error', id: 'signup-error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'button primary wide', id: 'signup-submit' }, t('signup.submit'));
  const form = h('form', { class: 'login-card', id: 'signup-form', onsubmit: async (event) => {
    event.preventDefault();
    replace(error);
    const chosen = name.value.trim();
    if (/^[0-9]+$/.test(chosen)) return replace(error, t('signup.digits'));
    if (password.value.length < 8) return replace(error, t('account.passwordShort'));
    if (password.value !== again.value) return replace(error, t('account.passwordMismatch'));
    submit.disabled = true;
    submit.textContent = t('signup.busy');
    try {
      state.user = await register({ name: chosen, password: password.value, code: invite ? invite.value.trim() : '' });
      history.replaceState(null, '', location.pathname + '#/files');
      showApp();
    } catch (failure) {
      replace(error, failure && failure.code === 'INVALID_NAME' ? t('signup.badName') : errorText(failure));
      submit.disabled = false;
      submit.textContent = t('signup.submit');
    }
  } },
  h('div', { class: 'brand big' }, h('img', { src: '/app/icon.svg', alt: '', width: 40, height: 40 }), h('span', {}, t('app.name'))),
  h('h1', {}, t('signup.title')),
  h('label', { for: 'signup-name' }, t('signup.name')), name,
  h('label', { for: 'signup-password' }, t('signup.password')), password,
  h('label', { for: 'signup-again' }, t('signup.again')), again,
  invite ? [h('label', { for: 'signup-code' }, t('signup.code')), invite] : null,
  error, submit,
  h('p', { class: 'login-switch' }, h('button', { type: 'button', class: 'link-button', id: 'signin-link', onclick: () => {
    history.replaceState(null, '', location.pathname);
    showLogin();
  } }, t('signup.back'))));
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
  // The same four places in the sidebar (desktop) and the bottom bar (phone).
  const navLink = (view, id, glyph, label) => h('a', { href: routeFor(view, '/'), class: 'nav-link', id, dataset: { view } }, icon(glyph), h('span', { class: 'label' }, label));
  const navLinks = [
    navLink('files', 'nav-files', icons.folder, t('nav.files')),
    navLink('shares', 'nav-shares', icons.share, t('nav.shares')),
    navLink('bin', 'nav-bin', icons.bin, t('nav.bin')),
    navLink('account', 'nav-account', icons.user, t('nav.account')),
  ];
  const tabLinks = [
    navLink('files', 'tab-files', icons.folder, t('nav.files')),
    navLink('shares', 'tab-shares', icons.share, t('nav.shares')),
    navLink('bin', 'tab-bin', icons.bin, t('nav.bin')),
    navLink('account', 'tab-account', icons.user, t('nav.account')),
  ];
  shell = { fileInput, quota, content, navLinks: [...navLinks, ...tabLinks], dropHint };
  replace(root,
    h('header', { class: 'topbar' },
      h('a', { class: 'brand', href: '#/files' }, h('img', { src: '/app/icon.svg', alt: '', width: 28, height: 28 }), h('span', {}, t('app.name'))),
      h('div', { class: 'topbar-space' }),
      quota,
      h('a', { class: 'user-name', id: 'user-name', href: '#/account', title: state.user.name || '' }, state.user.name || ''),
      h('button', { type: 'button', class: 'button ghost', id: 'sign-out', onclick: signOut }, icon(icons.logout), h('span', { class: 'label' }, t('nav.signout')))),
    h('div', { class: 'layout' },
      h('nav', { class: 'sidebar', 'aria-label': t('app.name') }, navLinks),
      content),
    h('nav', { class: 'tabbar', id: 'tabbar', 'aria-label': t('app.name') }, tabLinks),
    dropHint, fileInput, uploads.panel);
  renderQuota();
  setUpDragAndDrop(content, dropHint);
  uploads.signedIn(state.user);
  load();
}

/** Ends this session only; other browsers and devices stay signed in. */
async function signOut() {
  await logout();
  signedOut();
}

/** The server already ended this session (sign out everywhere, or revoked). */
function signedOut() {
  setSessionToken(null);
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
    // Files and whole folders (read recursively; the tree is made, then filled).
    const target = state.path;
    readDrop(event.dataTransfer).then((tree) => { if (tree.files.length || tree.folders.length) uploads.addTree(tree, target); });
  });
}

// MARK: Loading, and retrying a load that failed

/** Retries a failed load on its own (2, 4, 8, then every 10 s) until the server answers. */
let retryTimer = 0;
let retryDelay = 2000;
function scheduleRetry() {
  clearTimeout(retryTimer);
  retryTimer = setTimeout(() => { if (state.failed) load({ keepSelection: true, retrying: true }); }, retryDelay);
  retryDelay = Math.min(retryDelay * 2, 10000);
}
function stopRetry() {
  clearTimeout(retryTimer);
  retryDelay = 2000;
}
window.addEventListener('online', () => { if (state.failed) load({ keepSelection: true }); });

function viewTitle() {
  if (state.view === 'bin') return t('nav.bin');
  if (state.view === 'account') return t('nav.account');
  if (state.view === 'shares') return t('nav.shares');
  if (state.view === 'search') return t('search.title', { query: state.query });
  return state.path === '/' ? t('files.root') : state.path.slice(state.path.lastIndexOf('/') + 1);
}

async function load({ keepSelection = false, retrying = false } = {}) {
  if (!shell) return;
  const route = parseRoute();
  const query = route.query || '';
  const changed = route.view !== state.view || route.path !== state.path || query !== state.query;
  if (changed) { state.page = 1; state.listing = null; }
  state.view = route.view;
  state.path = route.path;
  state.query = query;
  if (!keepSelection || changed) clearSelection();
  for (const link of shell.navLinks) {
    const active = link.dataset.view === (state.view === 'search' ? 'files' : state.view);
    link.classList.toggle('active', active);
    link.setAttribute('aria-current', active ? 'page' : 'false');
  }
  document.title = `${viewTitle()} · ${t('app.name')}`;
  const id = ++state.loadId;
  // Navigating from inside the list keeps the keyboard in the list (not at the top of the page).
  const focusWasInside = shell.content.contains(document.activeElement);
  if (changed) replace(shell.content, h('p', { class: 'muted loading' }, t('files.loading')));
  try {
    if (state.view === 'account') {
      state.user = await call('/v1/user/info', {});
      if (id !== state.loadId) return;
      renderQuota();
      await renderAccount(shell.content, { user: state.user, onSignOut: signOut, onSignedOut: signedOut, heading: h('h1', { class: 'view-title' }, icon(icons.user), t('nav.account')) });
      if (id !== state.loadId) return;
      loaded();
      return;
    }
    if (state.view === 'shares') {
      await renderShares(shell.content, { heading: sharesHeading() });
      if (id !== state.loadId) return;
      loaded();
      return;
    }
    const endpoint = state.view === 'search' ? '/v1/files/search' : '/v1/files/page';
    const listing = await call(endpoint, { ...listingBody(), page: state.page, pageSize: PAGE_SIZE });
    if (id !== state.loadId) return;
    if (state.page > 1 && listing.list.length === 0 && listing.totalPage < state.page) {
      state.page = Math.max(1, listing.totalPage);
      return load({ keepSelection });
    }
    state.listing = listing;
    const reveal = state.reveal;
    state.reveal = null;
    if (reveal && state.view === 'files' && listing.list.some((node) => node.uuid === reveal)) {
      // "Show in folder": the item found, selected in its folder.
      state.selected.clear();
      state.selected.add(reveal);
      state.anchor = reveal;
    }
    if (!state.everything) {
      const present = new Set(listing.list.map((node) => node.uuid));
      for (const uuid of state.selected) if (!present.has(uuid)) state.selected.delete(uuid);
    }
    loaded();
    render();
    if (reveal && state.selected.has(reveal)) focusRow(reveal);
    else if (changed && focusWasInside) focusFirstRow();
  } catch (error) {
    if (id !== state.loadId || !shell) return;
    if (error.code === 'FILE_NOT_FOUND' && state.view === 'files' && state.path !== '/') {
      toast(errorText(error), 'error');
      go('files', '/');
      return;
    }
    state.failed = error;
    renderFailure(error, { focus: !retrying && focusWasInside });
    scheduleRetry();
  }
}

function loaded() {
  state.failed = null;
  stopRetry();
}

function listingBody() {
  if (state.view === 'search') return { name: state.query, orderBy: ORDERS[state.order] };
  return state.view === 'bin' ? { recycle: 1 } : { path: state.path, orderBy: ORDERS[state.order] };
}

/** The toolbar stays (breadcrumbs, New folder, Upload); the list's place says what failed, with Retry. */
function renderFailure(error, { focus = false } = {}) {
  const retry = h('button', { type: 'button', class: 'button', id: 'retry', onclick: () => { stopRetry(); load({ keepSelection: true }); } }, icon(icons.restore), t('action.retry'));
  const focused = document.activeElement && document.activeElement.id;
  replace(shell.content, toolbar(),
    h('div', { class: 'load-error', id: 'load-error', role: 'alert' },
      h('p', {}, errorText(error)),
      h('p', { class: 'muted' }, t('load.retrying')),
      retry));
  if (focused === 'retry' || focus) retry.focus({ preventScroll: true });
}

// MARK: Selection

function clearSelection() {
  state.selected.clear();
  state.everything = false;
  state.anchor = null;
}

function selectedNodes() {
  return (state.listing?.list || []).filter((node) => state.selected.has(node.uuid));
}

/** How many items the selection means (all of the folder's, when "everything" is chosen). */
function selectionCount() {
  return state.everything ? state.listing.totalCount : state.selected.size;
}

/** The selected items; with "everything", all of the folder's gathered page by page. */
async function selectionForAction() {
  if (!state.everything) return selectedNodes();
  toast(t('select.gathering', { count: state.listing.totalCount }));
  return gatherAll(listingBody());
}

function selectRange(toUuid, on) {
  const nodes = state.listing.list;
  const from = nodes.findIndex((node) => node.uuid === state.anchor);
  const to = nodes.findIndex((node) => node.uuid === toUuid);
  if (from < 0 || to < 0) return false;
  const [low, high] = from < to ? [from, to] : [to, from];
  for (let index = low; index <= high; index++) {
    if (on) state.selected.add(nodes[index].uuid); else state.selected.delete(nodes[index].uuid);
  }
  return true;
}

function selectPage() {
  for (const node of state.listing.list) state.selected.add(node.uuid);
  render();
}

// MARK: Rendering the list

function actionButton(id, label, glyph, action, { disabled = false, kind = '' } = {}) {
  return h('button', { type: 'button', class: 'button ' + kind, id, disabled, title: label, 'aria-label': label, onclick: action },
    icon(glyph), h('span', { class: 'label' }, label));
}

function sharesHeading() {
  return h('h1', { class: 'view-title' }, icon(icons.share), t('nav.shares'));
}

function toolbar() {
  if (state.view === 'account') return h('div', { class: 'toolbar' }, h('h1', { class: 'view-title' }, icon(icons.user), t('nav.account')));
  if (state.view === 'shares') return h('div', { class: 'toolbar' }, sharesHeading());
  const bin = state.view === 'bin';
  const searching = state.view === 'search';
  const heading = bin
    ? h('h1', { class: 'view-title' }, icon(icons.bin), h('span', { class: 'label' }, t('nav.bin')))
    : searching
      ? h('h1', { class: 'view-title', id: 'search-title' }, icon(icons.search), h('span', { class: 'label' }, t('search.title', { query: state.query })))
      : h('nav', { class: 'crumbs', 'aria-label': t('crumbs.label'), id: 'crumbs' }, crumbTrail(state.path, (path) => go('files', path)));
  const binHasItems = bin && state.listing && state.listing.totalCount > 0;
  return h('div', { class: 'toolbar' },
    heading,
    h('div', { class: 'toolbar-space' }),
    bin ? null : searchBox(),
    searching ? null : bin ? actionButton('action-empty-bin', t('action.emptyBin'), icons.trash, emptyBin, { disabled: !binHasItems, kind: 'danger' }) : null,
    bin || searching ? null : h('button', {
      type: 'button', class: 'button', id: 'action-layout', 'aria-pressed': String(state.layout === 'grid'),
      title: t(state.layout === 'grid' ? 'layout.list' : 'layout.grid'), 'aria-label': t(state.layout === 'grid' ? 'layout.list' : 'layout.grid'),
      onclick: () => {
        state.layout = state.layout === 'grid' ? 'list' : 'grid';
        localStorage.setItem('pan.layout', state.layout);
        render();
      },
    }, icon(state.layout === 'grid' ? icons.list : icons.grid), h('span', { class: 'label' }, t(state.layout === 'grid' ? 'layout.list' : 'layout.grid'))),
    bin || searching ? null : actionButton('action-new-folder', t('action.newFolder'), icons.plus, newFolder),
    bin || searching ? null : actionButton('action-upload-folder', t('upload.folder'), icons.folder, () => uploads.chooseFolder(state.path)),
    bin || searching ? null : actionButton('action-upload', t('action.upload'), icons.upload, () => shell.fileInput.click(), { kind: 'primary' }));
}

/** The search box (files and search views): Enter shows the names that contain what was typed, in the whole tree. */
function searchBox() {
  const input = h('input', {
    type: 'search', id: 'search-input', name: 'q', maxlength: 255, autocomplete: 'off', spellcheck: false,
    placeholder: t('search.placeholder'), 'aria-label': t('search.label'), value: state.view === 'search' ? state.query : '',
    onkeydown: (event) => {
      if (event.key === 'Escape' && state.view === 'search') { event.preventDefault(); history.back(); }
    },
  });
  return h('form', { class: 'search-box', role: 'search', id: 'search-form', onsubmit: (event) => {
    event.preventDefault();
    const query = input.value.trim();
    if (query) go('search', query);
  } }, icon(icons.search), input);
}

function render() {
  if (state.view === 'account' || state.view === 'shares' || !state.listing) return;
  const listing = state.listing;
  const nodes = listing.list;
  const bin = state.view === 'bin';
  const searching = state.view === 'search';
  const selected = selectedNodes();
  const count = selectionCount();
  const single = !state.everything && count === 1;
  const onlyFiles = !state.everything && selected.every((node) => node.type === 0);

  const actions = bin
    ? [
      actionButton('action-restore', t('action.restore'), icons.restore, restoreSelected, { disabled: count === 0 }),
      actionButton('action-purge', t('action.deleteForever'), icons.trash, purgeSelected, { disabled: count === 0, kind: 'danger' }),
    ]
    : [
      actionButton('action-download', t(single && onlyFiles || count === 0 ? 'action.download' : 'action.downloadZip'), icons.download, downloadSelected, { disabled: count === 0 }),
      actionButton('action-share', t('action.share'), icons.share, shareSelected, { disabled: !single }),
      searching ? actionButton('action-reveal', t('action.reveal'), icons.folder, () => reveal(selected[0]), { disabled: !single }) : null,
      actionButton('action-rename', t('action.rename'), icons.rename, renameSelected, { disabled: !single }),
      actionButton('action-move', t('action.move'), icons.move, () => transferSelected(false), { disabled: count === 0 }),
      actionButton('action-copy', t('action.copy'), icons.copy, () => transferSelected(true), { disabled: count === 0 }),
      actionButton('action-delete', t('action.delete'), icons.trash, deleteSelected, { disabled: count === 0, kind: 'danger' }),
    ];

  const countText = state.everything ? t('selected.all', { count })
    : count ? t('selected', { count })
      : searching ? t(listing.totalCount >= SEARCH_CAP ? 'search.capped' : 'search.count', { count: listing.totalCount })
        : t('page.items', { count: listing.totalCount });
  const selectionBar = h('div', { class: 'selection-bar' + (count ? ' has-selection' : '') + (searching ? ' results' : ''), role: 'toolbar', 'aria-label': countText },
    h('span', { class: 'selection-count', id: 'selection-count' }, countText),
    h('div', { class: 'toolbar-space' }),
    h('div', { class: 'actions' }, actions));

  // The whole page is selected and there is more: offer the whole folder.
  const pageAllSelected = nodes.length > 0 && nodes.every((node) => state.selected.has(node.uuid));
  let everythingBar = null;
  if (state.everything) {
    everythingBar = h('div', { class: 'everything-bar', id: 'everything-bar' },
      h('span', {}, t('select.everythingChosen', { count: listing.totalCount })),
      h('button', { type: 'button', class: 'link-button', id: 'select-clear', onclick: () => { clearSelection(); render(); } }, t('select.clear')));
  } else if (pageAllSelected && listing.totalCount > nodes.length && !searching) {
    everythingBar = h('div', { class: 'everything-bar', id: 'everything-bar' },
      h('span', {}, t('select.pageChosen', { count: nodes.length })),
      h('button', { type: 'button', class: 'link-button', id: 'select-everything', onclick: () => { state.everything = true; render(); } },
        t('select.everything', { count: listing.totalCount })));
  }

  let content;
  if (nodes.length === 0) {
    const text = bin ? t('bin.empty') : searching ? t('search.empty', { query: state.query }) : t('files.empty');
    content = h('div', { class: 'empty', id: 'empty' }, icon(bin ? icons.bin : searching ? icons.search : icons.folder), h('p', {}, text));
  } else if (!bin && !searching && state.layout === 'grid') {
    content = h('ul', { class: 'file-grid', id: 'file-grid', 'aria-label': t('layout.grid') }, nodes.map((node) => card(node)));
  } else {
    const allChecked = state.everything || pageAllSelected;
    const selectAll = h('input', { type: 'checkbox', id: 'select-all', 'aria-label': t('select.all'), checked: allChecked, onchange: () => {
      if (selectAll.checked) nodes.forEach((node) => state.selected.add(node.uuid));
      else clearSelection();
      render();
    } });
    selectAll.indeterminate = !allChecked && nodes.some((node) => state.selected.has(node.uuid));
    content = h('table', { class: 'files' + (bin ? ' bin' : searching ? ' bin results' : ''), id: 'file-table', onkeydown: arrowKeys },
      h('colgroup', {},
        h('col', { class: 'col-check' }), h('col', { class: 'col-name' }),
        bin || searching ? h('col', { class: 'col-location' }) : null,
        h('col', { class: 'col-size' }), h('col', { class: 'col-time' }),
        bin ? h('col', { class: 'col-deleted' }) : null),
      h('thead', {}, h('tr', {},
        h('th', { class: 'col-check' }, selectAll),
        sortHeader('name', t('col.name'), bin),
        bin || searching ? h('th', { class: 'col-location' }, t(searching ? 'col.folder' : 'col.location')) : null,
        sortHeader('size', t('col.size'), bin),
        sortHeader('time', t('col.time'), bin),
        bin ? h('th', { class: 'col-deleted' }, t('col.deleted')) : null)),
      h('tbody', {}, nodes.map((node) => row(node, bin, searching))));
  }

  const pager = listing.totalPage > 1
    ? h('nav', { class: 'pager', 'aria-label': t('page.label') },
      h('button', { type: 'button', class: 'button', id: 'page-prev', disabled: state.page <= 1, onclick: () => turnPage(-1) }, t('page.prev')),
      h('span', { id: 'page-label' }, t('page.of', { page: state.page, pages: listing.totalPage })),
      h('button', { type: 'button', class: 'button', id: 'page-next', disabled: state.page >= listing.totalPage, onclick: () => turnPage(1) }, t('page.next')))
    : null;

  // Rebuilding the list must not drop the keyboard focus: find the same control again.
  const active = document.activeElement;
  const focusKey = active && (active.dataset?.focus || active.id);
  replace(shell.content, toolbar(), selectionBar, everythingBar, content, pager);
  if (focusKey) {
    const again = shell.content.querySelector(`[data-focus="${CSS.escape(focusKey)}"]`) || document.getElementById(focusKey);
    if (again && !again.disabled) again.focus({ preventScroll: true });
    else if (active && !document.contains(active)) shell.content.focus({ preventScroll: true });
  }
}

/** Another page of the list: shown from its top, the selection kept. */
async function turnPage(step) {
  state.page += step;
  await load({ keepSelection: true });
  window.scrollTo(0, 0);
}

/** Its folder, with it selected ("Show in folder"). */
function reveal(node) {
  if (!node) return;
  state.reveal = node.uuid;
  go('files', node.path.slice(0, node.path.lastIndexOf('/')) || '/');
}

function focusRow(uuid) {
  const name = shell.content.querySelector(`[data-focus="${CSS.escape('name:' + uuid)}"]`);
  if (name) { name.focus({ preventScroll: true }); name.scrollIntoView({ block: 'nearest' }); }
}

function focusFirstRow() {
  const first = shell.content.querySelector('#file-table tbody [data-focus^="name:"]');
  (first || shell.content).focus({ preventScroll: !first });
}

/** ↑/↓ move between rows keeping the column (checkbox or name); Home/End to the ends. */
function arrowKeys(event) {
  if (!['ArrowDown', 'ArrowUp', 'Home', 'End'].includes(event.key) || event.altKey) return;
  const key = event.target.dataset && event.target.dataset.focus;
  if (!key) return;
  const kind = key.slice(0, key.indexOf(':'));
  const targets = Array.from(shell.content.querySelectorAll(`#file-table tbody [data-focus^="${kind}:"]`));
  const index = targets.indexOf(event.target);
  const next = { ArrowDown: index + 1, ArrowUp: index - 1, Home: 0, End: targets.length - 1 }[event.key];
  if (next < 0 || next >= targets.length) { event.preventDefault(); return; }
  event.preventDefault();
  targets[next].focus();
  if (event.shiftKey && kind === 'check') {
    // Shift+↑/↓ extends the selection, as in file managers.
    state.selected.add(targets[next].closest('tr').dataset.uuid);
    render();
  }
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
    } }, h('span', { class: 'label' }, label), active ? icon(direction === 'asc' ? icons.up : icons.downArrow, t(direction === 'asc' ? 'sort.asc' : 'sort.desc')) : null));
}

/**
 * A long name is cut in its middle, not its end, so what tells copies apart
 * (" (1).txt") stays visible; the whole name is the tooltip.
 */
function nameLabel(name) {
  const chars = Array.from(name);
  if (chars.length <= 24) return h('span', { class: 'name-text' }, name);
  const tail = chars.slice(-10).join('');
  return h('span', { class: 'name-text split' }, h('span', { class: 'name-head' }, chars.slice(0, -10).join('')), h('span', { class: 'name-tail' }, tail));
}

function row(node, bin, searching = false) {
  const isDir = node.type === 1;
  const checked = state.everything || state.selected.has(node.uuid);
  const toggle = h('input', { type: 'checkbox', checked, 'aria-label': t('select.one', { name: node.name }), dataset: { focus: 'check:' + node.uuid }, onclick: (event) => {
    if (state.everything) { state.everything = false; nodesOnPage().forEach((uuid) => state.selected.add(uuid)); }
    if (event.shiftKey && state.anchor && selectRange(node.uuid, toggle.checked)) { /* range done */ }
    else if (toggle.checked) state.selected.add(node.uuid); else state.selected.delete(node.uuid);
    state.anchor = node.uuid;
    render();
  } });
  const name = bin
    ? h('span', { class: 'name', title: node.name }, icon(isDir ? icons.folder : icons.file), nameLabel(node.name))
    : h('button', { type: 'button', class: 'name link', title: node.name, 'aria-label': isDir ? t('action.open', { name: node.name }) : previewable(node) ? t('action.previewName', { name: node.name }) : t('action.downloadName', { name: node.name }), dataset: { focus: 'name:' + node.uuid }, onclick: () => {
      if (isDir) go('files', node.path); else if (previewable(node)) view(node); else download([node]);
    } }, icon(isDir ? icons.folder : previewIcon(node)), nameLabel(node.name));
  const parent = node.path.slice(0, node.path.lastIndexOf('/')) || '/';
  const when = node.mtime || node.ctime;
  // A result's folder: a link that shows the item there, selected.
  const location = searching
    ? h('td', { class: 'col-location muted', title: parent },
      h('a', { href: routeFor('files', parent), class: 'reveal', 'aria-label': t('action.revealName', { name: node.name }), dataset: { focus: 'reveal:' + node.uuid }, onclick: (event) => {
        event.preventDefault();
        reveal(node);
      } }, parent))
    : bin ? h('td', { class: 'col-location muted', title: parent }, parent) : null;
  return h('tr', {
    class: checked ? 'selected' : '', 'aria-selected': String(checked), dataset: { uuid: node.uuid, name: node.name, type: String(node.type) },
    oncontextmenu: (event) => {
      event.preventDefault();
      // From the keyboard (the menu key, Shift+F10) there is no pointer: below the row's name.
      const box = event.currentTarget.getBoundingClientRect();
      openMenu(node, event.clientX || box.left + 48, event.clientY || box.bottom);
    },
    onclick: (event) => {
      if (event.target.closest('button, input, a')) return;
      if (state.everything) { state.everything = false; nodesOnPage().forEach((uuid) => state.selected.add(uuid)); }
      if (event.shiftKey && state.anchor) {
        if (!(event.ctrlKey || event.metaKey)) state.selected.clear();
        selectRange(node.uuid, true);
      } else {
        if (!(event.ctrlKey || event.metaKey)) state.selected.clear();
        if (checked && (event.ctrlKey || event.metaKey)) state.selected.delete(node.uuid); else state.selected.add(node.uuid);
        state.anchor = node.uuid;
      }
      render();
    },
  },
  h('td', { class: 'col-check' }, toggle),
  h('td', { class: 'col-name' }, name),
  location,
  h('td', { class: 'col-size' }, isDir ? '—' : formatSize(node.size)),
  timeCell('col-time', when),
  bin ? timeCell('col-deleted', node.recycledAt) : null);
}

/** A node of the grid: its thumbnail (images) or icon, its name, a checkbox; a click opens it as the row's name does. */
function card(node) {
  const isDir = node.type === 1;
  const checked = state.everything || state.selected.has(node.uuid);
  const toggle = h('input', { type: 'checkbox', class: 'grid-check', checked, 'aria-label': t('select.one', { name: node.name }), dataset: { focus: 'check:' + node.uuid }, onclick: () => {
    if (state.everything) { state.everything = false; nodesOnPage().forEach((uuid) => state.selected.add(uuid)); }
    if (toggle.checked) state.selected.add(node.uuid); else state.selected.delete(node.uuid);
    state.anchor = node.uuid;
    render();
  } });
  const picture = h('span', { class: 'grid-picture' }, icon(isDir ? icons.folder : previewIcon(node)));
  if (node.type === 0 && node.preview === 400) thumbnail(node, picture);
  const open = h('button', {
    type: 'button', class: 'grid-open', title: node.name, dataset: { focus: 'name:' + node.uuid },
    'aria-label': isDir ? t('action.open', { name: node.name }) : previewable(node) ? t('action.previewName', { name: node.name }) : t('action.downloadName', { name: node.name }),
    onclick: () => { if (isDir) go('files', node.path); else if (previewable(node)) view(node); else download([node]); },
  }, picture, h('span', { class: 'grid-name' }, node.name));
  return h('li', {
    class: 'grid-item' + (checked ? ' selected' : ''), dataset: { uuid: node.uuid, name: node.name, type: String(node.type) },
    oncontextmenu: (event) => {
      event.preventDefault();
      const box = event.currentTarget.getBoundingClientRect();
      openMenu(node, event.clientX || box.left + 24, event.clientY || box.bottom);
    },
  }, toggle, open);
}

// Thumbnails of the grid: the 256 px rendition's signed address per file
// version, asked for a few at a time (a page may hold hundreds of images),
// kept so a re-render shows them at once; the browser caches the picture.
const thumbnails = new Map(); // `${uuid}:${version}:${mtime}` → address, or '' when there is none
const thumbnailQueue = [];
let thumbnailsAsked = 0;

function thumbnail(node, picture) {
  const key = `${node.uuid}:${node.version}:${node.mtime}`;
  const show = (address) => {
    if (!address) return;
    const image = h('img', { src: address, alt: '', class: 'grid-thumbnail', loading: 'lazy' });
    image.addEventListener('error', () => image.remove());
    picture.replaceChildren(image);
  };
  if (thumbnails.has(key)) return show(thumbnails.get(key));
  thumbnailQueue.push({ node, key, show });
  pumpThumbnails();
}

function pumpThumbnails() {
  while (thumbnailsAsked < 3 && thumbnailQueue.length) {
    const { node, key, show } = thumbnailQueue.shift();
    if (thumbnails.has(key)) { show(thumbnails.get(key)); continue; }
    thumbnailsAsked += 1;
    call('/v1/preview/image', { uuid: node.uuid })
      .then((reply) => {
        const first = Array.isArray(reply.preview) && reply.preview[0];
        const address = first ? new URL(first.url, location.href) : null;
        thumbnails.set(key, address && address.origin === location.origin ? address.pathname + address.search : '');
      })
      .catch(() => thumbnails.set(key, ''))
      .finally(() => {
        thumbnailsAsked -= 1;
        // The card may have been rebuilt meanwhile: fill the one on the page now.
        const picture = shell && shell.content.querySelector(`.grid-item[data-uuid="${CSS.escape(node.uuid)}"] .grid-picture`);
        if (picture && thumbnails.get(key)) {
          const image = h('img', { src: thumbnails.get(key), alt: '', class: 'grid-thumbnail', loading: 'lazy' });
          image.addEventListener('error', () => image.remove());
          picture.replaceChildren(image);
        }
        pumpThumbnails();
      });
  }
}

/** A file's icon: what it can be previewed as (the file object's `preview` code). */
function previewIcon(node) {
  return { 100: icons.video, 200: icons.audio, 400: icons.image }[node.preview] || icons.file;
}

/** The viewer on a file of the listing; previous/next step through this page's images. */
function view(node) {
  openViewer(node, state.listing?.list || [], { onDownload: (item) => download([item]) });
}

/** The full date on wide screens, a short one on phones (CSS picks). */
function timeCell(className, time) {
  return h('td', { class: className, title: formatTime(time) },
    h('span', { class: 'time-long' }, formatTime(time)), h('span', { class: 'time-short' }, formatShortTime(time)));
}

function nodesOnPage() {
  return (state.listing?.list || []).map((node) => node.uuid);
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
  const path = (state.path === '/' ? '' : state.path) + '/' + name;
  try {
    // createDirectory returns an existing folder as it is: look first, and say so rather than "created".
    const existing = await call('/v1/files/get', { path }).catch((error) => (error.code === 'FILE_NOT_FOUND' ? null : Promise.reject(error)));
    if (existing) {
      toast(t(existing.type === 1 ? 'done.folderExists' : 'err.FILE_AREADY_EXISTS', { name }), 'error');
      return;
    }
    const created = await call('/v1/files/createDirectory', { path: state.path, name });
    toast(t('done.folder', { name: created && created.name || name }));
  } catch (error) {
    toast(errorText(error), 'error');
  } finally {
    load({ keepSelection: true });
  }
}

/** The Share dialog for the one selected file or folder. */
function shareSelected() {
  const [node] = selectedNodes();
  if (!node || state.everything) return;
  shareDialog(node);
}

async function renameSelected() {
  const [node] = selectedNodes();
  if (!node || state.everything) return;
  const name = await promptDialog({ title: t('dialog.rename'), label: t('dialog.newName'), value: node.name, ok: t('action.rename') });
  if (!name || name === node.name) return;
  await attempt(() => call('/v1/files/rename', { uuid: node.uuid, name }), () => t('done.rename', { name }));
}

/** A toast for what a batch did: how many, and which were skipped ("2 skipped: a.txt, b.txt"). */
const outcome = (key) => ({ done, skipped }) => t(key, { count: done })
  + (skipped.length ? ' · ' + t('done.skipped', { count: skipped.length, names: nameList(skipped.map((node) => node.name)) }) : '');

async function transferSelected(copying) {
  const count = selectionCount();
  if (!count) return;
  const destination = await folderPicker({
    title: t(copying ? 'dialog.copyTo' : 'dialog.moveTo', { count }),
    ok: t(copying ? 'action.copy' : 'action.move'),
    start: state.path,
    excluded: state.everything ? [state.path] : selectedNodes().filter((node) => node.type === 1).map((node) => node.path),
  });
  if (destination === null) return;
  await attempt(async () => {
    const nodes = await selectionForAction();
    return withConflictChoices(nodes, {
      send: (batch, conflict) => api(copying ? '/v1/files/copy' : '/v1/files/move', { uuids: batch.map((node) => node.uuid), destPath: destination, conflict }),
      folderOf: () => destination,
    });
  }, outcome(copying ? 'done.copy' : 'done.move')).then((result) => { if (result && !copying) clearSelection(); });
}

/** To the bin (`forever` false) or deleted forever, after a confirmation. */
async function removeSelected({ forever }) {
  const count = selectionCount();
  if (!count) return;
  const ok = await confirmDialog({ title: t(forever ? 'dialog.deleteForever' : 'dialog.delete', { count }), ok: t(forever ? 'action.deleteForever' : 'action.delete'), danger: true });
  if (!ok) return;
  await attempt(async () => {
    const nodes = await selectionForAction();
    await removeInBatches(nodes, { recycle: !forever });
    clearSelection();
    return nodes.length;
  }, (done) => t(forever ? 'done.deleteForever' : 'done.delete', { count: done }));
}
const deleteSelected = () => removeSelected({ forever: false });
const purgeSelected = () => removeSelected({ forever: true });

async function restoreSelected() {
  if (!selectionCount()) return;
  await attempt(async () => {
    const nodes = await selectionForAction();
    const result = await withConflictChoices(nodes, {
      // An array restores each, in one request (up to 1,000).
      send: (batch, conflict) => api('/v1/files/recycle', { uuids: batch.map((node) => node.uuid), recycle: 0, conflict }),
      folderOf: (node) => node.path.slice(0, node.path.lastIndexOf('/')) || '/',
    });
    clearSelection();
    return result;
  }, outcome('done.restore'));
}

async function emptyBin() {
  const count = state.listing?.totalCount || 0;
  const ok = await confirmDialog({ title: t('dialog.emptyBin', { count }), message: t('dialog.emptyBinText'), ok: t('action.emptyBin'), danger: true });
  if (!ok) return;
  await attempt(async () => {
    try {
      return await call('/v1/files/emptyBin', {});
    } finally {
      clearSelection();
    }
  }, (done) => t('done.emptyBin', { count: Number(done) || 0 }));
}

/** One file: its own link. A folder or several items: one zip made by the server. */
async function downloadSelected() {
  const nodes = state.everything ? null : selectedNodes();
  if (nodes && nodes.length === 1 && nodes[0].type === 0) return download(nodes);
  try {
    // Everything in the folder is the folder itself: one source, whatever its size.
    const sources = nodes ? { uuids: nodes.map((node) => node.uuid) } : { path: state.path };
    const zip = await call('/v1/files/zip', sources);
    if (!zip || !zip.url) throw Object.assign(new Error(), { code: 'FILE_NOT_FOUND' });
    location.assign(zip.url);
  } catch (error) {
    toast(errorText(error), 'error');
  }
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

// MARK: Context menu — a right-click (the menu key, a long press) on a row: that item's actions at hand.

let menu = null;
let menuReturn = null; // where the focus goes back to

function closeMenu({ refocus = false } = {}) {
  if (!menu) return;
  menu.remove();
  menu = null;
  if (refocus && menuReturn && document.contains(menuReturn)) menuReturn.focus({ preventScroll: true });
  menuReturn = null;
}

function openMenu(node, x, y) {
  closeMenu();
  // The menu acts on the selection: a row outside it becomes the selection, as in file managers.
  if (state.everything || !state.selected.has(node.uuid)) {
    clearSelection();
    state.selected.add(node.uuid);
    state.anchor = node.uuid;
    render();
  }
  const count = selectionCount();
  const single = count === 1 && !state.everything;
  const file = single && selectedNodes()[0]?.type === 0;
  const item = (id, label, glyph, action, { disabled = false, kind = '' } = {}) => h('button', {
    type: 'button', role: 'menuitem', class: 'menu-item ' + kind, id, disabled,
    onclick: () => { closeMenu(); action(); },
  }, icon(glyph), h('span', {}, label));
  const items = state.view === 'bin'
    ? [
      item('menu-restore', t('action.restore'), icons.restore, restoreSelected),
      item('menu-purge', t('action.deleteForever'), icons.trash, purgeSelected, { kind: 'danger' }),
    ]
    : [
      file && previewable(selectedNodes()[0]) ? item('menu-preview', t('action.preview'), icons.eye, () => view(selectedNodes()[0])) : null,
      item('menu-share', t('action.share'), icons.share, shareSelected, { disabled: !single }),
      item('menu-download', t(file ? 'action.download' : 'action.downloadZip'), icons.download, downloadSelected),
      item('menu-rename', t('action.rename'), icons.rename, renameSelected, { disabled: !single }),
      item('menu-move', t('action.move'), icons.move, () => transferSelected(false)),
      item('menu-copy', t('action.copy'), icons.copy, () => transferSelected(true)),
      item('menu-delete', t('action.delete'), icons.trash, deleteSelected, { kind: 'danger' }),
    ];
  menuReturn = document.activeElement;
  menu = h('div', { class: 'context-menu', id: 'context-menu', role: 'menu', 'aria-label': node.name, onkeydown: (event) => {
    const buttons = Array.from(menu.querySelectorAll('.menu-item:not([disabled])'));
    const index = buttons.indexOf(document.activeElement);
    const next = { ArrowDown: index + 1, ArrowUp: index - 1, Home: 0, End: buttons.length - 1 }[event.key];
    if (next !== undefined) {
      event.preventDefault();
      buttons[(next + buttons.length) % buttons.length].focus();
    } else if (event.key === 'Escape' || event.key === 'Tab') {
      event.preventDefault();
      event.stopPropagation();
      closeMenu({ refocus: true });
    }
  } }, items);
  document.body.append(menu);
  // Placed through the CSSOM (the CSP allows it, unlike a style attribute), kept inside the window.
  const box = menu.getBoundingClientRect();
  menu.style.left = Math.max(4, Math.min(x, innerWidth - box.width - 4)) + 'px';
  menu.style.top = Math.max(4, Math.min(y, innerHeight - box.height - 4)) + 'px';
  const first = menu.querySelector('.menu-item:not([disabled])');
  if (first) first.focus({ preventScroll: true });
}

document.addEventListener('pointerdown', (event) => { if (menu && !menu.contains(event.target)) closeMenu(); }, true);
window.addEventListener('resize', () => closeMenu());
window.addEventListener('scroll', () => closeMenu(), true);
window.addEventListener('hashchange', () => closeMenu());

// Keyboard: Delete → recycle bin, F2 → rename, Escape → clear the selection, Ctrl/Cmd+A → select the page.
document.addEventListener('keydown', (event) => {
  if (!shell || menu || document.querySelector('dialog[open]') || state.view === 'account' || state.view === 'shares') return;
  const target = event.target;
  if (target && (target.tagName === 'INPUT' && target.type !== 'checkbox' || target.tagName === 'TEXTAREA')) return;
  if (event.key === 'Delete' && selectionCount()) {
    event.preventDefault();
    (state.view === 'bin' ? purgeSelected : deleteSelected)();
  } else if (event.key === '/' && !event.ctrlKey && !event.metaKey && !event.altKey && document.getElementById('search-input')) {
    event.preventDefault();
    document.getElementById('search-input').focus();
  } else if (event.key === 'F2' && selectionCount() === 1 && !state.everything && (state.view === 'files' || state.view === 'search')) {
    event.preventDefault();
    renameSelected();
  } else if (event.key === 'Escape' && selectionCount()) {
    clearSelection();
    render();
  } else if ((event.key === 'a' || event.key === 'A') && (event.ctrlKey || event.metaKey) && !event.altKey && state.listing && state.listing.list.length) {
    event.preventDefault();
    selectPage();
  }
});

// MARK: Start

async function start() {
  clearTimeout(retryTimer);
  if (!sessionToken()) return showLogin();
  replace(root, h('p', { class: 'muted loading' }, t('files.loading')));
  try {
    state.user = await call('/v1/user/info', {});
    showApp();
  } catch (error) {
    if (!sessionToken()) return; // 401: the handler already showed the form
    // The server is away: say so, offer Retry, and try again on our own.
    replace(root, h('main', { class: 'login' }, h('div', { class: 'load-error', id: 'load-error', role: 'alert' },
      h('p', {}, errorText(error)),
      h('p', { class: 'muted' }, t('load.retrying')),
      h('button', { type: 'button', class: 'button', id: 'retry', onclick: start }, icon(icons.restore), t('action.retry')))));
    retryTimer = setTimeout(start, 5000);
  }
}

start();
