// Folders given to the page, as a list of files with their paths relative to
// the drop or the picked folder, plus every folder (so empty ones are created
// too). Two ways in: drag and drop (DataTransferItem.webkitGetAsEntry, read
// recursively) and <input type=file webkitdirectory> (File.webkitRelativePath;
// the browser lists no empty folders there).

/** Everything dropped: { files: [{file, path}], folders: ['a', 'a/b', …] }. */
export async function readDrop(dataTransfer) {
  const files = [], folders = [];
  const items = Array.from(dataTransfer.items || []);
  // Every entry must be taken before the first await: the DataTransfer is emptied after the event.
  const entries = items.map((item) => (item.kind === 'file' && item.webkitGetAsEntry ? item.webkitGetAsEntry() : null));
  if (!entries.some(Boolean)) {
    for (const file of Array.from(dataTransfer.files || [])) files.push({ file, path: file.name });
    return { files, folders };
  }
  for (const entry of entries) if (entry) await walk(entry, '', files, folders);
  return { files, folders };
}

/** A webkitdirectory input's files: { files: [{file, path}], folders }. */
export function readPicked(fileList) {
  const files = [], folders = new Set();
  for (const file of Array.from(fileList || [])) {
    const path = file.webkitRelativePath || file.name;
    files.push({ file, path });
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) folders.add(parts.slice(0, i).join('/'));
  }
  return { files, folders: Array.from(folders) };
}

async function walk(entry, prefix, files, folders) {
  const path = prefix ? prefix + '/' + entry.name : entry.name;
  if (entry.isFile) {
    try { files.push({ file: await new Promise((resolve, reject) => entry.file(resolve, reject)), path }); } catch { /* unreadable: skipped */ }
    return;
  }
  if (!entry.isDirectory) return;
  folders.push(path);
  const reader = entry.createReader();
  // readEntries answers in batches (100 in Chromium) until it answers none.
  for (;;) {
    let batch;
    try { batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject)); } catch { break; }
    if (!batch.length) break;
    for (const child of batch) await walk(child, path, files, folders);
  }
}
