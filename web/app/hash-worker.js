// The WCS content hash (`pan hash`, wcs.md §5) of a File, off the page's thread.
// The file is read one 4 MiB block at a time, so memory stays flat for any size.
// Message in: {file, fallback}; out: {progress: bytes} …, then {hash} or {error}.
import { sha1 } from './sha1.js';
import { BLOCK_SIZE, encodeHash } from './wcs-hash.js';

self.onmessage = async (event) => {
  const { file, fallback } = event.data;
  try {
    const subtle = !fallback && self.crypto && self.crypto.subtle;
    const digest = subtle
      ? async (buffer) => new Uint8Array(await subtle.digest('SHA-1', buffer))
      : async (buffer) => sha1(new Uint8Array(buffer));
    const blocks = Math.max(1, Math.ceil(file.size / BLOCK_SIZE));
    const digests = new Uint8Array(20 * blocks);
    for (let i = 0; i < blocks; i++) {
      const end = Math.min(file.size, (i + 1) * BLOCK_SIZE);
      const buffer = await file.slice(i * BLOCK_SIZE, end).arrayBuffer();
      digests.set(await digest(buffer), 20 * i);
      self.postMessage({ progress: end });
    }
    const combined = blocks === 1 ? digests : await digest(digests.buffer);
    self.postMessage({ hash: encodeHash(blocks === 1 ? 0x16 : 0x96, combined), subtle: Boolean(subtle) });
  } catch (error) {
    self.postMessage({ error: String(error && error.message || error) });
  }
};
