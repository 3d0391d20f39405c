// The viewer: a file of the listing shown in a dialog — an image (with
// previous/next through the folder's images), a video or audio player, a PDF
// opened in the browser's own viewer (a new tab, never framed here), text as
// text. Addresses come from `/v1/preview/*`: signed, short-lived, served by
// Pan inline only for kinds a browser shows without running anything of
// ours, with a sandboxing CSP. Nothing of a file is ever parsed as HTML:
// text goes in through textContent, Markdown as a document built from DOM
// nodes (markdown.js), never HTML.

import { call } from './api.js';
import { h, icon, icons, replace } from './dom.js';
import { errorText, formatSize, t } from './i18n.js';
import { isMarkdown, renderMarkdown } from './markdown.js';

/** A text preview shows at most this much of the file. */
const TEXT_BYTES = 256 * 1024;

/** The file object's `preview` code → its `/v1/preview/*` endpoint. */
const endpoints = { 100: 'media', 200: 'audio', 300: 'pdf', 400: 'image', 1000: 'text' };

/** Whether the viewer shows this node (a file whose `preview` code it knows). */
export function previewable(node) {
  return Boolean(node) && node.type === 0 && endpoints[node.preview] !== undefined;
}

/** The address as a path on this origin (the CSP allows images and media from 'self' only). */
function local(address) {
  try {
    const url = new URL(address, location.href);
    return url.origin === location.origin ? url.pathname + url.search : address;
  } catch {
    return address;
  }
}

/**
 * Opens the viewer on `node`. `siblings`: the listing's nodes, for previous/next
 * through its images. `onDownload(node)`: the listing's download.
 */
export function openViewer(node, siblings = [], { onDownload } = {}) {
  const images = siblings.filter((item) => item.type === 0 && item.preview === 400);
  let current = node;
  let generation = 0;
  const title = h('h2', { class: 'wrap-anywhere', id: 'viewer-title' });
  const facts = h('p', { class: 'muted', id: 'viewer-facts' });
  const body = h('div', { class: 'share-preview viewer-body', id: 'viewer-body', 'aria-live': 'polite' });
  const previous = h('button', { type: 'button', class: 'button', id: 'viewer-previous', title: t('viewer.previous'), 'aria-label': t('viewer.previous'), onclick: () => step(-1) }, '‹');
  const next = h('button', { type: 'button', class: 'button', id: 'viewer-next', title: t('viewer.next'), 'aria-label': t('viewer.next'), onclick: () => step(1) }, '›');
  const position = h('span', { class: 'muted viewer-position', id: 'viewer-position' });
  const download = h('button', { type: 'button', class: 'button', id: 'viewer-download', title: t('action.download'), onclick: () => onDownload && onDownload(current) }, icon(icons.download), h('span', { class: 'label' }, t('action.download')));
  const close = h('button', { type: 'button', class: 'button primary', id: 'viewer-close', onclick: () => dialog.close() }, t('action.close'));
  const dialog = h('dialog', {
    class: 'dialog share-preview-dialog viewer', id: 'viewer', 'aria-labelledby': 'viewer-title',
    onkeydown: (event) => {
      if (event.target && event.target.closest && event.target.closest('video, audio')) return;
      if (event.key === 'ArrowLeft') { event.preventDefault(); step(-1); }
      else if (event.key === 'ArrowRight') { event.preventDefault(); step(1); }
    },
  },
  title, facts, body,
  h('div', { class: 'dialog-buttons viewer-buttons' }, previous, position, next, h('span', { class: 'spacer' }), onDownload ? download : null, close));
  document.body.append(dialog);
  dialog.addEventListener('close', () => {
    generation += 1;
    // A playing medium stops with the dialog.
    for (const media of dialog.querySelectorAll('video, audio')) media.pause();
    dialog.remove();
  });
  dialog.showModal();
  show(node);

  function step(delta) {
    const index = images.findIndex((item) => item.uuid === current.uuid);
    if (current.preview !== 400 || index < 0 || images.length < 2) return;
    show(images[(index + delta + images.length) % images.length]);
  }

  async function show(item) {
    current = item;
    const mine = ++generation;
    title.textContent = item.name;
    facts.textContent = formatSize(item.size);
    body.dataset.kind = endpoints[item.preview] || '';
    const index = images.findIndex((image) => image.uuid === item.uuid);
    const stepping = item.preview === 400 && index >= 0 && images.length > 1;
    previous.hidden = next.hidden = position.hidden = !stepping;
    position.textContent = stepping ? t('viewer.position', { index: index + 1, count: images.length }) : '';
    body.replaceChildren(h('p', { class: 'muted loading' }, t('files.loading')));
    try {
      const reply = await call('/v1/preview/' + endpoints[item.preview], { uuid: item.uuid });
      if (mine !== generation) return;
      body.replaceChildren(...render(item, reply));
      if (reply.resolution) facts.textContent = formatSize(item.size) + ' · ' + reply.resolution.replace('x', ' × ');
    } catch (error) {
      if (mine !== generation) return;
      body.replaceChildren(h('p', { class: 'muted', id: 'viewer-error', role: 'alert' }, errorText(error)));
    }
  }
}

/** The preview itself, from `/v1/preview/*`'s reply. */
function render(item, reply) {
  const original = local(reply.url);
  const openOriginal = (label, id) => h('a', { class: 'button', href: original, target: '_blank', rel: 'noopener noreferrer', id }, icon(icons.external), label);
  switch (item.preview) {
    case 400: {
      // The large rendition (a few hundred KB) rather than the original (often many MB); the original one click away.
      const renditions = Array.isArray(reply.preview) ? reply.preview : [];
      const shown = renditions.length ? local(renditions[renditions.length - 1].url) : original;
      const image = h('img', { src: shown, alt: item.name, class: 'share-preview-image', id: 'viewer-image' });
      const failed = h('p', { class: 'muted', id: 'viewer-error', hidden: true }, t('viewer.imageFailed'));
      image.addEventListener('error', () => { image.hidden = true; failed.hidden = false; });
      return [image, failed, openOriginal(t('viewer.original'), 'viewer-original')];
    }
    case 100:
      return [h('video', { src: original, controls: true, preload: 'metadata', class: 'share-preview-media', id: 'viewer-video' })];
    case 200:
      return [h('audio', { src: original, controls: true, preload: 'metadata', id: 'viewer-audio' })];
    case 300:
      // Chromium's PDF viewer runs in its own tab; Pan never frames a PDF into the app.
      return [h('p', { class: 'muted' }, t('viewer.pdfNote')), openOriginal(t('sharePage.openPdf'), 'viewer-open-pdf')];
    case 1000: {
      const note = h('p', { class: 'muted share-preview-note', id: 'viewer-text-note' });
      if (isMarkdown(item.name)) {
        // Markdown as a document (markdown.js builds DOM nodes, never HTML).
        const doc = h('article', { class: 'markdown', id: 'viewer-markdown', tabindex: 0 }, t('files.loading'));
        loadText(original, doc, note, item.size, (text) => replace(doc, renderMarkdown(text)));
        return [doc, note];
      }
      const text = h('pre', { class: 'share-preview-text', id: 'viewer-text', tabindex: 0 }, t('files.loading'));
      loadText(original, text, note, item.size);
      return [text, note];
    }
    default:
      return [h('p', { class: 'muted' }, t('sharePage.noPreview'))];
  }
}

/** The start of a text file, as text (textContent: nothing in it is ever markup). */
async function loadText(address, pre, note, size, show = (text) => { pre.textContent = text; }) {
  try {
    const response = await fetch(address, { credentials: 'omit', headers: { Range: `bytes=0-${TEXT_BYTES - 1}` } });
    if (!response.ok) throw new Error('HTTP ' + response.status);
    const bytes = new Uint8Array(await response.arrayBuffer()).subarray(0, TEXT_BYTES);
    show(new TextDecoder('utf-8').decode(bytes));
    if (size > TEXT_BYTES) note.textContent = t('sharePage.textCut', { size: formatSize(TEXT_BYTES) });
  } catch {
    pre.textContent = '';
    note.textContent = t('sharePage.noPreview');
  }
}
