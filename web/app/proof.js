// Proof of possession (docs/api.md, "Instant upload"): when a file's content
// is stored but not this user's, the token reply carries a challenge — a
// nonce and byte ranges — and the answer is hex(SHA-256(nonce ‖ ranges)).
// The page holds the File, so it can answer, and the upload becomes instant.
import { sha256 } from './sha256.js';

/**
 * The answer to `challenge` ({nonce, ranges: [{offset, length}]}) for `file`.
 * `fallback: true` forces the plain-JS SHA-256 that pages on plain HTTP use (for tests).
 */
export async function answerChallenge(file, challenge, { fallback = false } = {}) {
  const parts = [new TextEncoder().encode(challenge.nonce)];
  for (const range of challenge.ranges || []) {
    const start = Number(range.offset), end = start + Number(range.length);
    if (!(start >= 0 && end <= file.size)) throw new Error('challenge range outside the file');
    parts.push(new Uint8Array(await file.slice(start, end).arrayBuffer()));
  }
  const message = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) { message.set(part, at); at += part.length; }
  const subtle = !fallback && globalThis.crypto && globalThis.crypto.subtle;
  const digest = subtle ? new Uint8Array(await subtle.digest('SHA-256', message)) : sha256(message);
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('');
}
