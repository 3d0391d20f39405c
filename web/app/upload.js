// Uploads: hash in a worker, ask /v1/store/token with the hash (an instant
// upload when the reply is a file), otherwise send the bytes to the token's
// uploadUrl with WCS slice upload — 4 MiB blocks (mkblk), several at once —
// then mkfile. Blocks are sent as File slices, so the browser streams them
// from disk: memory stays flat.
//
// Dependable (issue #26):
// - The panel is built once per upload and then only updated, so a pointer
//   on × or "Clear finished" keeps its target and keyboard focus stays.
// - Cancel tells the server (`/v1/store/cancel`), which frees the reserved
//   quota and the stored blocks at once.
// - A lost connection or a server that is down pauses the upload and retries
//   with backoff until the server answers; other failures get a Retry button.
// - Each acknowledged block's `ctx` is kept (in memory, and in IndexedDB by
//   resume-store.js), so a retry, an outage or a reload resends only the
//   missing blocks with the same token. A session the server ended (cancelled,
//   lapsed, expired) starts over with a new token.
// - Folders (picker or drop) are created first, then their files uploaded.
import { ApiError, api, call, sessionToken } from './api.js';
import { hashFile } from './hash.js';
import { answerChallenge } from './proof.js';
import { BLOCK_SIZE, base64url } from './wcs-hash.js';
import { h, icon, icons } from './dom.js';
import { errorText, formatDuration, formatSize, t } from './i18n.js';
import { conflictDialog } from './dialogs.js';
import { forgetResume, listResumes, resumeKey, saveResume } from './resume-store.js';
import { readPicked } from './folder-read.js';

const PARALLEL_FILES = 2;
const PARALLEL_BLOCKS = 3;
const PARALLEL_FOLDERS = 4;
/** Tries for an error that is not an outage (a 500, a 579 from the callback). */
const ATTEMPTS = 5;
/** Backoff while the server cannot be reached: 1 s doubling up to this. */
const MAX_BACKOFF_MS = 10000;

let nextId = 1;
const finished = new Set(['done', 'instant', 'skipped', 'failed', 'cancelled']);
const succeeded = new Set(['done', 'instant', 'skipped']);

/** Thrown inside a run that was cancelled or replaced by a retry: it just stops. */
class Stale extends Error {}

/** The session behind the token is over (cancelled, lapsed, expired, or its blocks gone). */
const sessionEnded = (error) => error instanceof TransferError && [400, 401, 404, 409].includes(error.status);
/** No answer, or a proxy saying the server is away: wait and try again, as long as it takes. */
const isOutage = (error) => error.status === 0 || [408, 429, 502, 503, 504].includes(error.status);

const joinPath = (dir, name) => (dir === '/' ? '/' : dir + '/') + name;

export class Uploads {
  /** `onFinished(item)` runs after each file that landed (uploaded or instant) and each folder tree made. */
  constructor(onFinished) {
    this.items = [];
    this.onFinished = onFinished;
    this.conflictForAll = null;
    this.dialogs = Promise.resolve();
    this.user = '';
    this.collapsed = false;
    this.rows = new Map();
    this.renderQueued = false;
    this.wakers = new Set();
    this.buildPanel();
    this.folderInput = h('input', { type: 'file', id: 'folder-input', class: 'visually-hidden', tabindex: -1, webkitdirectory: true, multiple: true,
      onchange: () => {
        const picked = readPicked(this.folderInput.files);
        if (picked.files.length) this.addTree(picked, this.folderTarget || '/');
        this.folderInput.value = '';
      } });
    this.resumeInput = h('input', { type: 'file', id: 'resume-input', class: 'visually-hidden', tabindex: -1, multiple: true,
      onchange: () => {
        // A file that matches no interrupted upload goes where the one it was chosen for was going.
        if (this.resumeInput.files.length) this.add(Array.from(this.resumeInput.files), this.resumeFor ? this.resumeFor.dir : '/');
        this.resumeInput.value = '';
      } });
    document.body.append(this.folderInput, this.resumeInput);
    window.addEventListener('beforeunload', (event) => {
      if (this.active) event.preventDefault();
    });
    window.addEventListener('pagehide', () => this.leaving());
    // The connection is back: every paused upload tries at once.
    window.addEventListener('online', () => this.wakeAll());
    setInterval(() => { if (this.items.some((item) => item.pausedUntil)) this.render(); }, 1000);
  }

  get active() { return this.items.some((item) => !finished.has(item.state) && item.state !== 'interrupted'); }

  /** The signed-in user: uploads a reload interrupted are offered for resuming. */
  async signedIn(user) {
    this.user = String((user && (user.uuid ?? user.name)) ?? '');
    const records = await listResumes(this.user);
    for (const record of records) {
      if (this.items.some((item) => item.key === record.key)) continue;
      this.items.push(this.newItem({
        file: null, name: record.name, dir: record.dir, rel: record.rel || record.name, size: record.size,
        lastModified: record.lastModified, state: 'interrupted', record,
        grant: { token: record.token, uploadUrl: record.uploadUrl }, ctxs: record.ctxs || [], expectHash: record.hash,
      }));
      const item = this.items[this.items.length - 1];
      item.loaded = storedBytes(item);
    }
    this.render();
  }

  /** Opens the folder picker; the chosen tree goes into `dir`. */
  chooseFolder(dir) {
    this.folderTarget = dir;
    this.folderInput.click();
  }

  newItem(fields) {
    const item = {
      id: nextId++, file: null, name: '', storedName: '', dir: '/', rel: '', size: 0, lastModified: 0, state: 'waiting',
      loaded: 0, hashed: 0, error: null, xhrs: new Set(), runs: 0, grant: null, ctxs: [], hash: '', expectHash: '',
      speed: 0, sample: null, pausedUntil: 0, kind: 'file', ...fields,
    };
    item.key = resumeKey(this.user, item.dir, item.rel || item.name, item.size, item.lastModified);
    return item;
  }

  /** Queues files (a FileList or array) for the folder `dir`. `rel`: their paths relative to `dir` (folder uploads). */
  add(files, dir, rels = null) {
    if (!this.active) this.conflictForAll = null;
    Array.from(files).forEach((file, index) => {
      const rel = rels ? rels[index] : file.name;
      // The same file as an interrupted upload: resume that one, into its folder.
      const waiting = this.items.find((item) => item.state === 'interrupted' && item.name === file.name
        && item.size === file.size && item.lastModified === file.lastModified && (rels ? item.rel === rel : true));
      if (waiting) {
        Object.assign(waiting, { file, state: 'waiting', error: null });
      } else {
        const target = rels && rel.includes('/') ? joinPath(dir, rel.slice(0, rel.lastIndexOf('/'))) : dir;
        this.items.push(this.newItem({ file, name: file.name, dir: target, rel, size: file.size, lastModified: file.lastModified }));
      }
    });
    this.pump();
    this.render();
  }

  /** A folder tree ({files: [{file, path}], folders}) into `dir`: the folders first, then the files. */
  addTree(tree, dir) {
    const tops = new Set([...tree.folders.map((path) => path.split('/')[0]), ...tree.files.filter((f) => f.path.includes('/')).map((f) => f.path.split('/')[0])]);
    const loose = tree.files.filter((entry) => !entry.path.includes('/'));
    if (loose.length) this.add(loose.map((entry) => entry.file), dir);
    for (const top of tops) {
      const folders = tree.folders.filter((path) => path === top || path.startsWith(top + '/'));
      if (!folders.includes(top)) folders.push(top);
      const files = tree.files.filter((entry) => entry.path.startsWith(top + '/'));
      const item = this.newItem({ kind: 'folder', name: top, rel: top, dir, folders, files, done: 0, state: 'waiting' });
      this.items.push(item);
      this.makeFolders(item);
    }
    this.render();
  }

  /** Creates a tree's folders (parents before children, a few at a time), then queues its files. */
  async makeFolders(item) {
    const run = ++item.runs;
    item.state = 'creating';
    item.error = null;
    this.render();
    try {
      const byDepth = new Map();
      for (const path of item.folders) {
        const depth = path.split('/').length;
        if (!byDepth.has(depth)) byDepth.set(depth, []);
        byDepth.get(depth).push(path);
      }
      item.done = 0;
      for (const depth of [...byDepth.keys()].sort((a, b) => a - b)) {
        const level = byDepth.get(depth);
        let next = 0;
        const worker = async () => {
          while (next < level.length) {
            const path = level[next++];
            const parent = path.includes('/') ? joinPath(item.dir, path.slice(0, path.lastIndexOf('/'))) : item.dir;
            // createDirectory returns an existing folder as it is: uploading into it merges.
            await this.attempt(item, run, () => call('/v1/files/createDirectory', { path: parent, name: path.slice(path.lastIndexOf('/') + 1) }));
            item.done++;
            this.render();
          }
        };
        await Promise.all(Array.from({ length: Math.min(PARALLEL_FOLDERS, level.length) }, worker));
      }
      if (this.stale(item, run)) return;
      item.state = 'done';
      this.onFinished(item);
      if (item.files.length) this.add(item.files.map((entry) => entry.file), item.dir, item.files.map((entry) => entry.path));
    } catch (error) {
      if (error instanceof Stale || this.stale(item, run)) return;
      item.state = 'failed';
      item.error = error;
    } finally {
      this.render();
    }
  }

  pump() {
    const running = this.items.filter((item) => item.kind === 'file' && !finished.has(item.state) && !['waiting', 'interrupted'].includes(item.state)).length;
    let free = PARALLEL_FILES - running;
    for (const item of this.items) {
      if (free <= 0) break;
      if (item.kind !== 'file' || item.state !== 'waiting') continue;
      free--;
      item.state = 'hashing';
      this.run(item).finally(() => { this.pump(); this.render(); });
    }
  }

  stale(item, run) { return item.runs !== run || item.state === 'cancelled'; }

  async run(item) {
    const run = ++item.runs;
    let startedOver = false;
    try {
      if (!item.hash) item.hash = await hashFile(item.file, (bytes) => { item.hashed = bytes; this.render(); });
      if (this.stale(item, run)) return;
      // An interrupted upload resumes only with the very same content.
      if (item.grant && item.expectHash && item.expectHash !== item.hash) this.dropGrant(item, true);
      for (;;) {
        if (!item.grant) {
          const reply = await this.grant(item, run);
          if (!reply) return; // skipped, or cancelled while asking
          if (reply.uuid && reply.storeId) {
            // The content is already stored: the file exists now, no bytes sent.
            item.storedName = reply.name || item.name;
            item.state = 'instant';
            item.loaded = item.size;
            this.onFinished(item);
            return;
          }
          item.grant = { token: reply.token, uploadUrl: reply.uploadUrl };
          item.ctxs = [];
          this.persist(item);
        }
        try {
          item.state = 'sending';
          this.render();
          const file = await this.send(item, run);
          item.storedName = (file && file.name) || item.name;
          item.state = 'done';
          item.loaded = item.size;
          forgetResume(item.key);
          this.onFinished(item);
          return;
        } catch (error) {
          if (error instanceof Stale || this.stale(item, run) || !sessionEnded(error)) throw error;
          // The server no longer takes this token's bytes. It may have finished (an
          // answer lost on the way): ask. Otherwise start over, once, with a new token.
          if (await this.finishedOnServer(item)) {
            item.state = 'done';
            item.loaded = item.size;
            forgetResume(item.key);
            this.onFinished(item);
            return;
          }
          if (startedOver) throw error;
          startedOver = true;
          this.dropGrant(item, false);
        }
      }
    } catch (error) {
      if (error instanceof Stale || this.stale(item, run)) return;
      item.state = 'failed';
      item.error = error;
      item.pausedUntil = 0;
      // A refusal that a retry cannot change (quota, a name rule): nothing to resume.
      if (!item.grant) forgetResume(item.key);
    } finally {
      item.speed = 0;
      this.render();
    }
  }

  /** Asks for the upload token (conflicts asked of the user); null when skipped or cancelled. */
  async grant(item, run) {
    item.state = 'asking';
    this.render();
    let conflict = this.conflictForAll || 'fail';
    let reply;
    for (;;) {
      try {
        reply = await this.attempt(item, run, () => call('/v1/store/token', { name: item.name, path: item.dir, hash: item.hash, size: item.size, conflict }));
        break;
      } catch (error) {
        if (error.code !== 'FILE_AREADY_EXISTS' || conflict !== 'fail') throw error;
        const decision = await this.askConflict(item);
        if (this.stale(item, run)) throw new Stale();
        if (decision === 'skip') { item.state = 'skipped'; return null; }
        conflict = decision;
      }
    }
    if (reply && reply.challenge && !reply.uuid) reply = await this.prove(item, reply, conflict);
    if (this.stale(item, run)) {
      // Cancelled while the server answered: end the session it just opened.
      if (reply && reply.token) this.tellServer(reply.token);
      throw new Stale();
    }
    return reply;
  }

  /**
   * The content is stored, but not this user's: answer the server's challenge
   * from the file itself, and the upload is instant. Any refusal falls back
   * to uploading the bytes with the grant already in hand.
   */
  async prove(item, grant, conflict) {
    try {
      const answer = await answerChallenge(item.file, grant.challenge);
      const proven = await call('/v1/store/token', {
        name: item.name, path: item.dir, hash: item.hash, size: item.size, conflict,
        proof: { nonce: grant.challenge.nonce, answer },
      });
      return proven && proven.uuid && proven.storeId ? proven : grant;
    } catch {
      return grant;
    }
  }

  /** One conflict dialog at a time; "for all" answers the rest of this batch. */
  askConflict(item) {
    const answer = this.dialogs.then(async () => {
      if (this.conflictForAll) return this.conflictForAll;
      const { choice, all } = await conflictDialog(item.name, item.dir === '/' ? t('files.root') : item.dir);
      if (all) this.conflictForAll = choice;
      return choice;
    });
    this.dialogs = answer.catch(() => {});
    return answer;
  }

  /** Sends the blocks that have no ctx yet, then mkfile; resolves to the stored file object. */
  async send(item, run) {
    const base = String(item.grant.uploadUrl || '').replace(/\/+$/, '');
    const headers = { Authorization: item.grant.token, UploadBatch: 'web-' + item.id + '-' + Date.now().toString(36) };
    const blocks = Math.max(1, Math.ceil(item.size / BLOCK_SIZE));
    const blockSize = (index) => Math.min(item.size, (index + 1) * BLOCK_SIZE) - index * BLOCK_SIZE;
    const sent = new Float64Array(blocks);
    const missing = [];
    for (let index = 0; index < blocks; index++) {
      if (typeof item.ctxs[index] === 'string') sent[index] = blockSize(index);
      else missing.push(index);
    }
    const total = () => sent.reduce((sum, value) => sum + value, 0);
    item.loaded = total();
    item.sample = null;
    let next = 0;
    let failure = null;
    const worker = async () => {
      while (next < missing.length && !failure) {
        if (this.stale(item, run)) throw new Stale();
        const index = missing[next++];
        const start = index * BLOCK_SIZE;
        const size = blockSize(index);
        const reply = await this.attempt(item, run, () => {
          sent[index] = 0;
          return post(item, `${base}/mkblk/${size}/${index}`, item.file.slice(start, start + size), headers, (bytes) => {
            sent[index] = bytes;
            this.progress(item, total());
          });
        });
        if (typeof reply.ctx !== 'string' || Number(reply.offset) !== size) {
          throw new ApiError('UPLOAD_FAILED', 'block ' + index + ' incomplete', 0);
        }
        item.ctxs[index] = reply.ctx;
        sent[index] = size;
        this.progress(item, total());
        this.persist(item);
      }
    };
    // A block that fails for good stops the others (their requests are aborted).
    const guarded = () => worker().catch((error) => {
      if (!failure) failure = error;
      for (const xhr of item.xhrs) xhr.abort();
    });
    await Promise.all(Array.from({ length: Math.min(PARALLEL_BLOCKS, missing.length) }, guarded));
    if (this.stale(item, run)) throw new Stale();
    if (failure) throw failure;
    item.state = 'finishing';
    this.render();
    const name = base64url(new TextEncoder().encode(item.name));
    const reply = await this.attempt(item, run, () => post(item, `${base}/mkfile/${item.size}/fname/${name}`, item.ctxs.slice(0, blocks).join(','),
      { ...headers, 'Content-Type': 'text/plain' }, () => {}));
    // WCS relays Pan's callback answer as a JSON string in `response`.
    let answer = null;
    try { answer = JSON.parse(reply.response); } catch { /* not JSON */ }
    if (!answer || answer.success === false) {
      throw new ApiError((answer && answer.code) || 'UPLOAD_FAILED', answer && answer.message, 200);
    }
    if (reply.hash && item.hash && reply.hash !== item.hash) item.hashMismatch = true;
    return answer.result;
  }

  /**
   * Runs `send` until it succeeds. No answer or a 502/503/504 (the server away)
   * pauses the upload and tries again, doubling the wait up to 10 s, for as long
   * as it takes — the user can cancel; other 5xx get ATTEMPTS tries.
   */
  async attempt(item, run, send) {
    for (let failures = 0; ;) {
      if (this.stale(item, run)) throw new Stale();
      try {
        const reply = await send();
        if (item.pausedUntil) { item.pausedUntil = 0; this.render(); }
        // The server answers again: the other paused requests need not wait out their backoff.
        this.wakeAll();
        return reply;
      } catch (error) {
        if (this.stale(item, run)) throw new Stale();
        if (!isOutage(error) && !(error.status >= 500)) throw error;
        failures++;
        if (!isOutage(error) && failures >= ATTEMPTS) throw error;
        const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(failures - 1, 4)) * (0.8 + Math.random() * 0.4);
        item.pausedUntil = Date.now() + delay;
        item.speed = 0;
        this.render();
        await this.sleep(delay);
      }
    }
  }

  sleep(ms) {
    return new Promise((resolve) => {
      const wake = () => { clearTimeout(timer); this.wakers.delete(wake); resolve(); };
      const timer = setTimeout(wake, ms);
      this.wakers.add(wake);
    });
  }

  wakeAll() { for (const wake of [...this.wakers]) wake(); }

  /** Smoothed speed: an exponential average of the rate over ≥ 0.5 s windows. */
  progress(item, loaded) {
    item.loaded = loaded;
    const now = performance.now();
    if (!item.sample) item.sample = { time: now, loaded };
    const elapsed = now - item.sample.time;
    if (elapsed >= 500) {
      const rate = Math.max(0, (loaded - item.sample.loaded) / (elapsed / 1000));
      item.speed = item.speed ? item.speed * 0.7 + rate * 0.3 : rate;
      item.sample = { time: now, loaded };
    }
    this.render();
  }

  /** What a reload needs to resume this upload (resume-store.js). */
  persist(item) {
    if (!item.grant || !item.file) return;
    saveResume({
      key: item.key, user: this.user, name: item.name, rel: item.rel, dir: item.dir, size: item.size,
      lastModified: item.lastModified, hash: item.hash, token: item.grant.token, uploadUrl: item.grant.uploadUrl,
      blockSize: BLOCK_SIZE, ctxs: item.ctxs.slice(),
    });
  }

  /** Forgets the token and its blocks; `tell`: end its session on the server too. */
  dropGrant(item, tell) {
    if (tell && item.grant) this.tellServer(item.grant.token);
    item.grant = null;
    item.ctxs = [];
    item.expectHash = '';
    forgetResume(item.key);
  }

  /**
   * Ends an upload session on the server (its reservation and blocks are freed
   * at once). Resolves to 'done' when the upload had already finished (409
   * UPLOAD_DONE), else 'cancelled' — also when the server does not know it (404)
   * or cannot be reached (then its reservation lapses by itself).
   */
  async tellServer(token) {
    try {
      await api('/v1/store/cancel', { token });
    } catch (error) {
      if (error.code === 'UPLOAD_DONE') return 'done';
    }
    return 'cancelled';
  }

  async finishedOnServer(item) {
    return !!item.grant && (await this.tellServer(item.grant.token)) === 'done';
  }

  async cancel(item) {
    if (finished.has(item.state)) return;
    const grant = item.grant;
    item.state = 'cancelled';
    item.pausedUntil = 0;
    item.speed = 0;
    for (const xhr of item.xhrs) xhr.abort();
    forgetResume(item.key);
    this.render();
    this.pump();
    if (grant && (await this.tellServer(grant.token)) === 'done' && item.kind === 'file') {
      // It had finished before the cancel arrived: it is there, say so.
      item.state = 'done';
      item.loaded = item.size;
      this.onFinished(item);
      this.render();
    }
  }

  retry(item) {
    if (item.pausedUntil) { this.wakeAll(); return; }
    if (item.state !== 'failed') return;
    item.error = null;
    if (item.kind === 'folder') { this.makeFolders(item); return; }
    item.state = 'waiting';
    this.pump();
    this.render();
  }

  clearFinished() {
    const panelHadFocus = this.panel.contains(document.activeElement);
    this.items = this.items.filter((item) => !finished.has(item.state));
    this.render();
    if (panelHadFocus && !this.panel.contains(document.activeElement)) this.clearButton.focus();
  }

  /**
   * The tab is going away. Uploads with blocks stored stay resumable (the user
   * may be reloading; if not, the server lapses their reservation after a few
   * idle minutes); a session with nothing worth resuming is ended now.
   */
  leaving() {
    const token = sessionToken();
    if (!token) return;
    for (const item of this.items) {
      if (finished.has(item.state) || !item.grant || item.state === 'interrupted') continue;
      if (item.ctxs.some((ctx) => typeof ctx === 'string')) continue;
      try {
        fetch('/v1/store/cancel', {
          method: 'POST', keepalive: true, credentials: 'omit',
          headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + token },
          body: JSON.stringify({ token: item.grant.token }),
        }).catch(() => {});
      } catch { /* best effort */ }
      forgetResume(item.key);
    }
  }

  // MARK: The panel — built once; each tick only changes text, values and attributes.

  buildPanel() {
    this.totalText = h('span', { class: 'uploads-total', id: 'upload-total', 'aria-live': 'off' });
    this.clearButton = h('button', { type: 'button', class: 'button small', id: 'uploads-clear', onclick: () => this.clearFinished() }, t('action.clear'));
    this.toggleIcon = h('span', { class: 'toggle-icon' });
    this.toggleButton = h('button', {
      type: 'button', class: 'icon-button', id: 'uploads-toggle',
      onclick: () => { this.collapsed = !this.collapsed; this.draw(); },
    }, this.toggleIcon);
    this.totalProgress = h('progress', { class: 'total-progress', max: 1, value: 0, 'aria-label': t('upload.title') });
    this.list = h('ul', { class: 'upload-list' });
    this.panel = h('section', { class: 'uploads', id: 'uploads', 'aria-label': t('upload.title'), hidden: true },
      h('header', { class: 'uploads-head' }, h('h2', {}, t('upload.title')), this.totalText, this.clearButton, this.toggleButton),
      this.totalProgress, this.list);
  }

  render() {
    if (this.renderQueued) return;
    this.renderQueued = true;
    // rAF does not run in a hidden tab; the timeout keeps the panel true there too.
    const draw = () => { if (this.renderQueued) { this.renderQueued = false; this.draw(); } };
    requestAnimationFrame(draw);
    setTimeout(draw, 250);
  }

  draw() {
    this.panel.hidden = this.items.length === 0;
    this.updateHead();
    // Rows of items gone (cleared) leave; new ones are made once, in order.
    const present = new Set(this.items);
    for (const [item, row] of this.rows) if (!present.has(item)) { row.element.remove(); this.rows.delete(item); }
    let previous = null;
    for (const item of this.items) {
      let row = this.rows.get(item);
      if (!row) { row = this.makeRow(item); this.rows.set(item, row); }
      if (row.element.previousElementSibling !== previous || row.element.parentNode !== this.list) {
        if (previous) previous.after(row.element); else this.list.prepend(row.element);
      }
      this.updateRow(item, row);
      previous = row.element;
    }
  }

  updateHead() {
    const counted = this.items.filter((item) => item.kind === 'file' && item.state !== 'cancelled' && item.state !== 'failed');
    const size = counted.reduce((sum, item) => sum + item.size, 0);
    const loaded = counted.reduce((sum, item) => sum + Math.min(item.loaded, item.size), 0);
    const done = this.items.filter((item) => succeeded.has(item.state) && item.state !== 'cancelled').length;
    const failed = this.items.filter((item) => item.state === 'failed').length;
    const count = this.items.filter((item) => item.state !== 'cancelled').length;
    const speed = this.items.reduce((sum, item) => sum + (item.state === 'sending' && !item.pausedUntil ? item.speed : 0), 0);
    const remaining = counted.filter((item) => !finished.has(item.state) && item.state !== 'interrupted')
      .reduce((sum, item) => sum + Math.max(0, item.size - item.loaded), 0);
    const parts = [t('upload.count', { done, count })];
    if (failed) parts.push(t('upload.failedCount', { count: failed }));
    parts.push(t('upload.bytes', { loaded: formatSize(loaded), size: formatSize(size) }));
    if (speed > 0 && remaining > 0) parts.push(t('upload.speed', { speed: formatSize(speed) }), t('upload.left', { time: formatDuration(remaining / speed) }));
    setText(this.totalText, parts.join(' · '));
    this.totalText.dataset.done = String(done);
    this.totalText.dataset.failed = String(failed);
    this.totalText.dataset.count = String(count);
    const complete = size === 0 && done === count;
    setProp(this.totalProgress, 'max', Math.max(size, 1));
    setProp(this.totalProgress, 'value', complete ? 1 : loaded);
    setProp(this.clearButton, 'disabled', !this.items.some((item) => finished.has(item.state)));
    const expanded = String(!this.collapsed);
    if (this.toggleButton.getAttribute('aria-expanded') !== expanded) {
      this.toggleButton.setAttribute('aria-expanded', expanded);
      this.toggleButton.setAttribute('aria-label', t(this.collapsed ? 'upload.expand' : 'upload.collapse'));
      this.toggleIcon.replaceChildren(icon(this.collapsed ? icons.up : icons.downArrow));
    }
    setProp(this.list, 'hidden', this.collapsed);
  }

  makeRow(item) {
    const row = {
      icon: h('span', { class: 'upload-icon' }),
      name: h('span', { class: 'upload-name' }),
      size: h('span', { class: 'upload-size' }),
      status: h('span', { class: 'upload-status' }),
      progress: h('progress', { max: 1, value: 0 }),
      retry: h('button', { type: 'button', class: 'icon-button upload-retry', hidden: true, onclick: () => this.retry(item) }, icon(icons.restore)),
      pick: h('button', { type: 'button', class: 'button small upload-pick', hidden: true, onclick: () => { this.resumeFor = item; this.resumeInput.click(); } }, t('upload.choose')),
      cancel: h('button', { type: 'button', class: 'icon-button upload-cancel', onclick: () => this.cancel(item) }, icon(icons.close)),
      iconState: '',
    };
    row.element = h('li', { class: 'upload-item', dataset: { id: String(item.id), name: item.name, kind: item.kind, path: item.rel || item.name } },
      row.icon, row.name, row.size, row.status, row.progress, h('span', { class: 'upload-actions' }, row.pick, row.retry, row.cancel));
    return row;
  }

  updateRow(item, row) {
    const percent = (part, whole) => (whole > 0 ? Math.floor((100 * part) / whole) : 100);
    const shownName = item.storedName || item.name;
    // Files of a folder upload show the path inside it, with the stored name last.
    const label = item.rel && item.rel.includes('/') ? item.rel.slice(0, item.rel.lastIndexOf('/') + 1) + shownName : shownName;
    const visible = item.pausedUntil && !finished.has(item.state) ? 'paused' : item.state;
    let status;
    switch (item.state) {
      case 'waiting': status = t('upload.waiting'); break;
      case 'hashing': status = t('upload.hashing', { percent: percent(item.hashed, item.size) }); break;
      case 'asking': status = t('upload.asking'); break;
      case 'creating': status = t('upload.creating', { done: item.done, count: item.folders.length }); break;
      case 'sending': status = item.speed > 0
        ? t('upload.sendingRate', { percent: percent(item.loaded, item.size), speed: formatSize(item.speed), time: formatDuration((item.size - item.loaded) / item.speed) })
        : t('upload.sending', { percent: percent(item.loaded, item.size) });
        break;
      case 'finishing': status = t('upload.finishing'); break;
      case 'done': status = item.kind === 'folder' ? t('upload.folderDone', { count: item.files.length }) : t('upload.done'); break;
      case 'instant': status = t('upload.instant'); break;
      case 'skipped': status = t('upload.skipped'); break;
      case 'cancelled': status = t('upload.cancelled'); break;
      case 'interrupted': status = t('upload.addAgain', { name: item.name, percent: percent(storedBytes(item), item.size) }); break;
      default: status = t('upload.failed', { reason: errorText(item.error) });
    }
    if (item.pausedUntil && !finished.has(item.state)) {
      status = t('upload.paused', { seconds: Math.max(0, Math.ceil((item.pausedUntil - Date.now()) / 1000)) });
    }
    if (row.element.dataset.state !== visible) row.element.dataset.state = visible;
    if (row.element.dataset.stored !== shownName) row.element.dataset.stored = shownName;
    setText(row.name, label);
    if (row.name.title !== (item.dir === '/' ? '/' : item.dir + '/') + shownName) row.name.title = (item.dir === '/' ? '/' : item.dir + '/') + shownName;
    setText(row.size, item.kind === 'folder' ? t('kind.folder') : formatSize(item.size));
    setText(row.status, status);
    const statusClass = 'upload-status ' + visible;
    if (row.status.className !== statusClass) row.status.className = statusClass;
    const iconState = item.kind === 'folder' ? 'folder' : item.state === 'instant' ? 'instant' : item.state === 'done' ? 'done' : 'file';
    if (row.iconState !== iconState) {
      row.iconState = iconState;
      row.icon.replaceChildren(icon({ folder: icons.folder, instant: icons.bolt, done: icons.check, file: icons.file }[iconState]));
    }
    const value = item.kind === 'folder' ? (item.state === 'done' ? 1 : percent(item.done, item.folders.length) / 100)
      : item.state === 'hashing' ? 0 : Math.min(item.loaded, item.size) / Math.max(item.size, 1);
    setProp(row.progress, 'value', item.size === 0 && succeeded.has(item.state) ? 1 : value);
    setAttr(row.progress, 'aria-label', label);
    const canRetry = item.state === 'failed' || (!!item.pausedUntil && !finished.has(item.state));
    setProp(row.retry, 'hidden', !canRetry);
    setAttr(row.retry, 'aria-label', t(item.pausedUntil ? 'upload.retryNow' : 'upload.retry', { name: label }));
    setAttr(row.retry, 'title', t(item.pausedUntil ? 'upload.retryNow' : 'upload.retry', { name: label }));
    setProp(row.pick, 'hidden', item.state !== 'interrupted');
    // A button about to hide must not take keyboard focus down with it.
    const focused = document.activeElement;
    if (finished.has(item.state) && focused === row.cancel) (canRetry ? row.retry : this.clearButton).focus();
    setProp(row.cancel, 'hidden', finished.has(item.state));
    if (focused === row.retry && !canRetry) (row.cancel.hidden ? this.clearButton : row.cancel).focus();
    setAttr(row.cancel, 'aria-label', t(item.state === 'interrupted' ? 'upload.discard' : 'upload.cancel', { name: label }));
    setAttr(row.cancel, 'title', t(item.state === 'interrupted' ? 'upload.discard' : 'upload.cancel', { name: label }));
  }
}

const storedBytes = (item) => item.ctxs.reduce((sum, ctx, index) =>
  sum + (typeof ctx === 'string' ? Math.min(item.size, (index + 1) * BLOCK_SIZE) - index * BLOCK_SIZE : 0), 0);

function setText(element, text) { if (element.textContent !== text) element.textContent = text; }
function setProp(element, name, value) { if (element[name] !== value) element[name] = value; }
function setAttr(element, name, value) { if (element.getAttribute(name) !== value) element.setAttribute(name, value); }

class TransferError extends ApiError {}

/**
 * A request whose body stops moving for this long is given up and retried: a
 * connection that went dead (Wi-Fi gone, a server killed behind a proxy) may
 * never report an error by itself.
 */
const STALL_MS = 20000;

/** POST with upload progress (fetch has none); resolves to the JSON reply. */
function post(item, url, body, headers, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    let moved = Date.now(), sent = false, stalled = false;
    const watchdog = setInterval(() => {
      if (!sent && Date.now() - moved > STALL_MS) { stalled = true; xhr.abort(); }
    }, 1000);
    const end = () => { clearInterval(watchdog); item.xhrs.delete(xhr); };
    xhr.open('POST', url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => { moved = Date.now(); onProgress(event.loaded); };
    // Once the body is sent the server's answer may take a while (mkfile waits for the callback).
    xhr.upload.onload = () => { sent = true; };
    xhr.onload = () => {
      end();
      let json = null;
      try { json = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300 && json) resolve(json);
      else reject(new TransferError('UPLOAD_FAILED', (json && json.message) || 'HTTP ' + xhr.status, xhr.status));
    };
    xhr.onerror = () => { end(); reject(new TransferError('NETWORK', '', 0)); };
    xhr.onabort = () => { end(); reject(stalled ? new TransferError('NETWORK', 'stalled', 0) : new TransferError('CANCELLED', '', -1)); };
    item.xhrs.add(xhr);
    xhr.send(body);
  });
}
