// Shared by the page and the hash worker: WCS's block size and hash encoding.

/** WCS blocks are 4 MiB; the content hash and slice uploads both use them. */
export const BLOCK_SIZE = 4 * 1024 * 1024;

/** URL-safe base64 without padding (21 bytes → 28 characters, so none is needed). */
export function base64url(bytes) {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** 0x16 || sha1(block) for one block, 0x96 || sha1(sha1(b0) || sha1(b1) || …) for more. */
export function encodeHash(prefix, digest) {
  const out = new Uint8Array(21);
  out[0] = prefix;
  out.set(digest, 1);
  return base64url(out);
}
