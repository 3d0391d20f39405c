// Uploads: hash in a worker, ask /v1/store/token with the hash (an instant
// upload when the reply is a file), otherwise send the bytes to the token's
// uploadUrl with WCS slice upload — 4 MiB blocks (mkblk), several at once,
// each retried on its own after a failure, then mkfile. Blocks are sent as
// File slices, so the browser streams them from disk: memory stays flat.
import { ApiError, call } from './api.js';
import { hashFile } from './hash.js';
import { answerChallenge } from './proof.js';
import { BLOCK_SIZE, base64url } from './wcs-hash.js';
import { h, icon, icons, replace } from './dom.js';
import { errorText, formatSize, t } from './i18n.js';
import { conflictDialog } from './dialogs.js';

const PARALLEL_FILES = 2;
const PARALLEL_BLOCKS = 3;
const ATTEMPTS = 5;

let nextId = 1;
const finished = new Set(['done', 'instant', 'skipped', 'failed', 'cancelled']);

export class Uploads {
  /** `onFinished(item)` runs after each file that landed (uploaded or instant). */
  constructor(onFinished) {
    this.items = [];
    this.onFinished = onFinished;
    this.conflictForAll = null;
    this.dialogs = Promise.resolve();
    this.panel = h('section', { class: 'uploads', 'aria-label': t('upload.title'), hidden: true });
    this.renderQueued = false;
    this.collapsed = false;
    window.addEventListener('beforeunload', (event) => {
      if (this.items.some((item) => !finished.has(item.state))) event.preventDefault();
    });
  }

  get active() { return this.items.some((item) => !finished.has(item.state)); }

  /** Queues files (a FileList or array) for the folder `dir`. */
  add(files, dir) {
    if (!this.active) this.conflictForAll = null;
    for (const file of files) {
      this.items.push({
        id: nextId++, file, name: file.name, dir, size: file.size, state: 'waiting',
        loaded: 0, hashed: 0, error: null, xhrs: new Set(), retrying: false,
      });
    }
    this.pump();
    this.render();
  }

  pump() {
    const running = this.items.filter((item) => !finished.has(item.state) && item.state !== 'waiting').length;
    let free = PARALLEL_FILES - running;
    for (const item of this.items) {
      if (free <= 0) break;
      if (item.state !== 'waiting') continue;
      free--;
      item.state = 'hashing';
      this.run(item).finally(() => { this.pump(); this.render(); });
    }
  }

  async run(item) {
    try {
      item.hash = await hashFile(item.file, (bytes) => { item.hashed = bytes; this.render(); });
      if (item.state === 'cancelled') return;
      item.state = 'asking';
      this.render();
      let conflict = this.conflictForAll || 'fail';
      let reply;
      for (;;) {
        try {
          reply = await call('/v1/store/token', { name: item.name, path: item.dir, hash: item.hash, size: item.size, conflict });
          break;
        } catch (error) {
          if (error.code !== 'FILE_AREADY_EXISTS' || conflict !== 'fail') throw error;
          const decision = await this.askConflict(item);
          if (decision === 'skip') { item.state = 'skipped'; return; }
          conflict = decision;
        }
      }
      if (item.state === 'cancelled') return;
      if (reply && reply.challenge && !reply.uuid) reply = await this.prove(item, reply, conflict);
      if (item.state === 'cancelled') return;
      if (reply && reply.uuid && reply.storeId) {
        // The content is already stored: the file exists now, no bytes sent.
        item.state = 'instant';
        item.loaded = item.size;
      } else {
        item.state = 'sending';
        await this.send(item, reply);
        if (item.state === 'cancelled') return;
        item.state = 'done';
        item.loaded = item.size;
      }
      this.onFinished(item);
    } catch (error) {
      if (item.state === 'cancelled') return;
      item.state = 'failed';
      item.error = error;
    } finally {
      this.render();
    }
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

  async send(item, grant) {
    const base = String(grant.uploadUrl || '').replace(/\/+$/, '');
    const headers = { Authorization: grant.token, UploadBatch: 'web-' + item.id + '-' + Date.now().toString(36) };
    const blocks = Math.max(1, Math.ceil(item.size / BLOCK_SIZE));
    const ctxs = new Array(blocks);
    const sent = new Float64Array(blocks);
    let next = 0;
    let failure = null;
    const worker = async () => {
      while (next < blocks && item.state !== 'cancelled' && !failure) {
        const index = next++;
        const start = index * BLOCK_SIZE;
        const end = Math.min(item.size, start + BLOCK_SIZE);
        const reply = await this.attempt(item, () => {
          sent[index] = 0;
          return post(item, `${base}/mkblk/${end - start}/${index}`, item.file.slice(start, end), headers, (bytes) => {
            sent[index] = bytes;
            item.loaded = sent.reduce((sum, value) => sum + value, 0);
            this.render();
          });
        });
        if (typeof reply.ctx !== 'string' || Number(reply.offset) !== end - start) {
          throw new ApiError('UPLOAD_FAILED', 'block ' + index + ' incomplete', 0);
        }
        ctxs[index] = reply.ctx;
        sent[index] = end - start;
      }
    };
    // A block that fails for good stops the others (their requests are aborted).
    const guarded = () => worker().catch((error) => {
      if (!failure) failure = error;
      for (const xhr of item.xhrs) xhr.abort();
    });
    await Promise.all(Array.from({ length: Math.min(PARALLEL_BLOCKS, blocks) }, guarded));
    if (item.state === 'cancelled') return;
    if (failure) throw failure;
    item.state = 'finishing';
    this.render();
    const name = base64url(new TextEncoder().encode(item.name));
    const reply = await post(item, `${base}/mkfile/${item.size}/fname/${name}`, ctxs.join(','),
      { ...headers, 'Content-Type': 'text/plain' }, () => {});
    // WCS relays Pan's callback answer as a JSON string in `response`.
    let answer = null;
    try { answer = JSON.parse(reply.response); } catch { /* not JSON */ }
    if (!answer || answer.success === false) {
      throw new ApiError((answer && answer.code) || 'UPLOAD_FAILED', answer && answer.message, 200);
    }
    if (reply.hash && item.hash && reply.hash !== item.hash) item.hashMismatch = true;
  }

  /** Runs `send` until it succeeds; network failures and 5xx are retried with backoff. */
  async attempt(item, send) {
    for (let attempt = 1; ; attempt++) {
      try {
        const reply = await send();
        item.retrying = false;
        return reply;
      } catch (error) {
        const retryable = error.status === 0 || error.status >= 500 || error.status === 408 || error.status === 429;
        if (item.state === 'cancelled' || !retryable || attempt >= ATTEMPTS) throw error;
        item.retrying = true;
        this.render();
        await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
      }
    }
  }

  cancel(item) {
    if (finished.has(item.state)) return;
    item.state = 'cancelled';
    for (const xhr of item.xhrs) xhr.abort();
    this.render();
  }

  clearFinished() {
    this.items = this.items.filter((item) => !finished.has(item.state));
    this.render();
  }

  render() {
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => { this.renderQueued = false; this.draw(); });
  }

  draw() {
    const panel = this.panel;
    panel.hidden = this.items.length === 0;
    if (panel.hidden) return;
    const counted = this.items.filter((item) => item.state !== 'skipped' && item.state !== 'cancelled');
    const size = counted.reduce((sum, item) => sum + item.size, 0);
    const loaded = counted.reduce((sum, item) => sum + Math.min(item.loaded, item.size), 0);
    const done = this.items.filter((item) => finished.has(item.state)).length;
    replace(panel,
      h('header', { class: 'uploads-head' },
        h('h2', {}, t('upload.title')),
        h('span', { class: 'uploads-total', id: 'upload-total' }, t('upload.total', {
          done, count: this.items.length, loaded: formatSize(loaded), size: formatSize(size),
        })),
        h('button', { type: 'button', class: 'button small', onclick: () => this.clearFinished() }, t('action.clear')),
        h('button', {
          type: 'button', class: 'icon-button', id: 'uploads-toggle', 'aria-expanded': String(!this.collapsed),
          'aria-label': t(this.collapsed ? 'upload.expand' : 'upload.collapse'),
          onclick: () => { this.collapsed = !this.collapsed; this.draw(); },
        }, icon(this.collapsed ? icons.up : icons.downArrow))),
      h('progress', { class: 'total-progress', max: Math.max(size, 1), value: size === 0 && done === this.items.length ? 1 : loaded, 'aria-label': t('upload.title') }),
      h('ul', { class: 'upload-list', hidden: this.collapsed }, this.items.map((item) => this.row(item))));
  }

  row(item) {
    const percent = (part, whole) => (whole > 0 ? Math.floor((100 * part) / whole) : 100);
    let status;
    switch (item.state) {
      case 'waiting': status = t('upload.waiting'); break;
      case 'hashing': status = t('upload.hashing', { percent: percent(item.hashed, item.size) }); break;
      case 'asking': status = t('upload.asking'); break;
      case 'sending': status = item.retrying ? t('upload.retrying') : t('upload.sending', { percent: percent(item.loaded, item.size) }); break;
      case 'finishing': status = t('upload.finishing'); break;
      case 'done': status = t('upload.done'); break;
      case 'instant': status = t('upload.instant'); break;
      case 'skipped': status = t('upload.skipped'); break;
      case 'cancelled': status = t('upload.cancelled'); break;
      default: status = t('upload.failed', { reason: errorText(item.error) });
    }
    const value = item.state === 'hashing' ? 0 : Math.min(item.loaded, item.size);
    return h('li', { class: 'upload-item', dataset: { state: item.state, name: item.name } },
      h('span', { class: 'upload-icon' }, icon(item.state === 'instant' ? icons.bolt : item.state === 'done' ? icons.check : icons.file)),
      h('span', { class: 'upload-name', title: item.name }, item.name),
      h('span', { class: 'upload-size' }, formatSize(item.size)),
      h('span', { class: 'upload-status ' + item.state }, status),
      h('progress', { max: Math.max(item.size, 1), value: item.size === 0 && finished.has(item.state) ? 1 : value, 'aria-label': item.name }),
      finished.has(item.state) ? h('span') : h('button', {
        type: 'button', class: 'icon-button', 'aria-label': t('upload.cancel', { name: item.name }), onclick: () => this.cancel(item),
      }, icon(icons.close)));
  }
}

class TransferError extends ApiError {}

/** POST with upload progress (fetch has none); resolves to the JSON reply. */
function post(item, url, body, headers, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => onProgress(event.loaded);
    xhr.onload = () => {
      item.xhrs.delete(xhr);
      let json = null;
      try { json = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300 && json) resolve(json);
      else reject(new TransferError('UPLOAD_FAILED', (json && json.message) || 'HTTP ' + xhr.status, xhr.status));
    };
    xhr.onerror = () => { item.xhrs.delete(xhr); reject(new TransferError('NETWORK', '', 0)); };
    xhr.onabort = () => { item.xhrs.delete(xhr); reject(new TransferError('CANCELLED', '', -1)); };
    item.xhrs.add(xhr);
    xhr.send(body);
  });
}
