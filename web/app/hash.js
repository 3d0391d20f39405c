// Hashes files in a Web Worker (hash-worker.js) so the page stays responsive.

/**
 * The WCS content hash of `file` (a File or Blob). `onProgress(bytes)` is
 * called as blocks are hashed. `fallback: true` forces the plain-JS SHA-1
 * that pages on plain HTTP use (for tests).
 */
export function hashFile(file, onProgress = () => {}, { fallback = false } = {}) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./hash-worker.js', import.meta.url), { type: 'module' });
    worker.onmessage = (event) => {
      const message = event.data;
      if (message.progress !== undefined) return onProgress(message.progress);
      worker.terminate();
      if (message.hash) resolve(message.hash);
      else reject(new Error(message.error || 'hash failed'));
    };
    worker.onerror = (event) => {
      worker.terminate();
      reject(new Error(event.message || 'hash worker failed'));
    };
    worker.postMessage({ file, fallback });
  });
}
