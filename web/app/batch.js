// Work on many items at once: gather a whole folder's (or the bin's) items page
// by page, send them in batches the server accepts, and ask what to do when a
// name is taken at the destination.
import { call } from './api.js';
import { conflictDialog } from './dialogs.js';
import { t } from './i18n.js';

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

/**
 * Runs `send(nodes, conflict)` — resolving to the reply, {result: count,
 * skipped} — over `nodes`, 1,000 a request. Each batch goes with
 * `conflict: "skip"`: whatever can be done is done in that one request, and the
 * server lists in `skipped` the sources it left in place because their name is
 * taken. For each of those the user chooses Replace ("overwrite"), Keep both
 * ("rename") or Skip, possibly for all remaining conflicts, and they are sent
 * again with that choice. The server never replaces a folder (nor a file with
 * one): then the user is told so and chooses again, without Replace.
 * `folderOf(node)` names where the conflict is, for the dialog.
 * Resolves to {done: how many were acted on, skipped: the nodes left in place}.
 */
export async function withConflictChoices(nodes, { send, folderOf }) {
  let policy; // chosen with "apply to all"
  let done = 0;
  const skipped = [];
  const acted = (reply) => { done += Number(reply.result) || 0; };
  const isFolderRefusal = (error) => error && error.code === 'DIRECTORY_NOT_REPLACED';

  /** One conflict, asked about until its choice works. */
  const settle = async (node) => {
    let refused = false; // Replace was refused: a folder on one side
    for (;;) {
      let choice = refused && policy === 'overwrite' ? undefined : policy;
      if (!choice) {
        const answer = await conflictDialog(node.name, folderOf(node), refused ? { note: t('conflict.folder'), canReplace: false } : {});
        choice = answer.choice;
        if (answer.all) policy = choice;
      }
      if (choice === 'skip') { skipped.push(node); return; }
      try {
        acted(await send([node], choice));
        return;
      } catch (error) {
        if (!isFolderRefusal(error)) throw error;
        refused = true;
      }
    }
  };

  /** The sources a batch left in place: asked about one by one, or all at once once chosen "for all". */
  const resolve = async (conflicts) => {
    for (let index = 0; index < conflicts.length; index++) {
      const rest = conflicts.slice(index);
      if (policy === 'skip') { skipped.push(...rest); return; }
      if (policy && rest.length > 1) {
        try {
          acted(await send(rest, policy));
          return;
        } catch (error) {
          // A folder among them refused the whole request: one at a time, asking about each refused one.
          if (!isFolderRefusal(error)) throw error;
          for (const node of rest) await settle(node);
          return;
        }
      }
      await settle(conflicts[index]);
    }
  };

  for (const batch of chunks(nodes, MAX_SOURCES)) {
    const byUuid = new Map(batch.map((node) => [node.uuid, node]));
    const reply = await send(batch, 'skip');
    acted(reply);
    await resolve(reply.skipped.map((item) => byUuid.get(item.uuid) || item));
  }
  return { done, skipped };
}
