// Work on many items at once: gather a whole folder's (or the bin's) items page
// by page, send them in batches the server accepts, and ask what to do when a
// name is taken at the destination.
import { call } from './api.js';
import { conflictDialog } from './dialogs.js';

/** The server takes at most this many sources in one move/copy/remove request. */
export const MAX_SOURCES = 1000;
/** `/v1/files/page` answers at most 999 per page. */
const GATHER_PAGE_SIZE = 999;
/** A bound on pages gathered, so a runaway folder cannot keep the tab busy forever. */
const MAX_GATHER_PAGES = 1000;

/** Every item of a listing (`body` as for /v1/files/page, without page or pageSize). */
export async function gatherAll(body) {
  const nodes = [];
  for (let page = 1; page <= MAX_GATHER_PAGES; page++) {
    const listing = await call('/v1/files/page', { ...body, page, pageSize: GATHER_PAGE_SIZE });
    nodes.push(...listing.list);
    if (page >= listing.totalPage || listing.list.length === 0) break;
  }
  return nodes;
}

export function chunks(items, size) {
  const parts = [];
  for (let start = 0; start < items.length; start += size) parts.push(items.slice(start, start + size));
  return parts;
}

/** Recycles `nodes` (or, with `recycle` false, deletes them forever), 1,000 a request. */
export async function removeInBatches(nodes, { recycle }) {
  for (const batch of chunks(nodes, MAX_SOURCES)) {
    await call('/v1/files/remove', { uuid: batch.map((node) => node.uuid), ...(recycle ? { recycle: 1 } : {}) });
  }
}

const isConflict = (error) => error && error.code === 'FILE_AREADY_EXISTS';

/**
 * Runs `send(nodes, conflict)` over `nodes` in batches of `batchSize`. A batch
 * refused because a name is taken is retried one item at a time, and for each
 * item whose name is taken the user chooses Replace ("overwrite"), Keep both
 * ("rename") or Skip, possibly for all remaining conflicts — then that choice
 * is sent as `conflict` with every later batch. `folderOf(node)` names where
 * the conflict is, for the dialog. Resolves to {done, skipped}.
 */
export async function withConflictChoices(nodes, { batchSize = MAX_SOURCES, send, folderOf }) {
  let policy; // chosen with "apply to all"
  let done = 0, skipped = 0;
  const one = async (node) => {
    try {
      // One at a time, "skip" is the client's own: send nothing, skip on a conflict.
      await send([node], policy === 'skip' ? undefined : policy);
      done++;
      return;
    } catch (error) {
      if (!isConflict(error)) throw error;
    }
    let choice = policy;
    if (!choice) {
      const answer = await conflictDialog(node.name, folderOf(node));
      choice = answer.choice;
      if (answer.all) policy = choice;
    }
    if (choice === 'skip') { skipped++; return; }
    await send([node], choice);
    done++;
  };
  for (const batch of chunks(nodes, batchSize)) {
    if (batch.length === 1) { await one(batch[0]); continue; }
    try {
      await send(batch, policy);
      done += batch.length;
    } catch (error) {
      // A server without `skip` says 400; the one-by-one path skips on its own.
      if (!isConflict(error) && !(policy === 'skip' && error.status === 400)) throw error;
      for (const node of batch) await one(node);
    }
  }
  return { done, skipped };
}
