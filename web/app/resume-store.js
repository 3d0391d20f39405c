// What an upload needs to resume after a reload, kept in IndexedDB: the file's
// identity (name, size, lastModified, content hash), its folder, the upload
// token and uploadUrl the server granted, the block size, and the `ctx` of
// every block the server has acknowledged. A browser cannot reopen a file by
// itself, so a record waits until the user adds the same file again; then only
// the blocks without a ctx are sent, with the same token, and mkfile ends it.
// Every failure here is swallowed: without IndexedDB (private mode) uploads
// still work, they just start over after a reload.

const DB_NAME = 'pan-uploads';
const STORE = 'uploads';
/** Records older than this are dropped unread: their token has long expired. */
const MAX_AGE_MS = 7 * 24 * 3600 * 1000;

let opening = null;

function open() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      if (typeof indexedDB === 'undefined') { reject(new Error('no IndexedDB')); return; }
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => {
        const store = request.result.createObjectStore(STORE, { keyPath: 'key' });
        store.createIndex('user', 'user');
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
      request.onblocked = () => reject(new Error('IndexedDB blocked'));
    });
    opening.catch(() => { opening = null; });
  }
  return opening;
}

async function run(mode, body) {
  try {
    const db = await open();
    return await new Promise((resolve, reject) => {
      const transaction = db.transaction(STORE, mode);
      const result = body(transaction.objectStore(STORE));
      transaction.oncomplete = () => resolve(result && 'result' in result ? result.result : undefined);
      transaction.onerror = () => reject(transaction.error);
      transaction.onabort = () => reject(transaction.error);
    });
  } catch {
    return undefined;
  }
}

/** The key of one file going to one folder for one user. */
export function resumeKey(user, dir, name, size, lastModified) {
  return [user, dir, name, size, lastModified].join('\n');
}

/** Stores (replaces) a record; `record.key` from resumeKey. */
export function saveResume(record) {
  return run('readwrite', (store) => store.put({ ...record, updated: Date.now() }));
}

export function forgetResume(key) {
  return run('readwrite', (store) => store.delete(key));
}

/** This user's records, newest first; stale ones are deleted on the way. */
export async function listResumes(user) {
  const all = (await run('readonly', (store) => store.index('user').getAll(user))) || [];
  const fresh = [];
  for (const record of all) {
    if (!record || Date.now() - (record.updated || 0) > MAX_AGE_MS) forgetResume(record && record.key);
    else fresh.push(record);
  }
  return fresh.sort((a, b) => (b.updated || 0) - (a.updated || 0));
}
