// Markdown shown as a document, safely: parsed here into DOM nodes made with
// h() and text nodes — never innerHTML — so nothing in a file is ever markup,
// script or style, whatever it contains. CommonMark's everyday subset:
// headings, paragraphs, emphasis, inline code, fenced and indented code,
// block quotes, lists, rules and links (http, https and mailto only; any
// other link is its text). Raw HTML in the file stays text. Written here
// rather than taken from a library: the app has no third-party code, and the
// CSP (script-src 'self') would need it vendored anyway.
import { h } from './dom.js';

const SAFE_LINK = /^(https?:|mailto:)/i;

/** Inline text: `code`, **strong**, *em* / _em_, [text](url). */
function inline(text) {
  const out = [];
  let rest = text;
  const pattern = /(`+)([\s\S]*?[^`])\1(?!`)|\*\*([^*]+)\*\*|__([^_]+)__|\*([^*\s][^*]*)\*|\b_([^_\s][^_]*)_\b|\[([^\]]+)\]\(((?:[^()\s]|\([^()\s]*\))+)(?:\s+"[^"]*")?\)/;
  while (rest.length) {
    const match = pattern.exec(rest);
    if (!match) { out.push(rest); break; }
    if (match.index > 0) out.push(rest.slice(0, match.index));
    if (match[1]) out.push(h('code', {}, match[2].trim()));
    else if (match[3] || match[4]) out.push(h('strong', {}, ...inline(match[3] || match[4])));
    else if (match[5] || match[6]) out.push(h('em', {}, ...inline(match[5] || match[6])));
    else if (match[7]) {
      out.push(SAFE_LINK.test(match[8])
        ? h('a', { href: match[8], target: '_blank', rel: 'noopener noreferrer nofollow' }, ...inline(match[7]))
        : match[7]);
    }
    rest = rest.slice(match.index + match[0].length);
  }
  return out;
}

/** The document's blocks, as elements for a container. */
export function renderMarkdown(source) {
  const lines = source.replace(/\r\n?/g, '\n').split('\n');
  const blocks = [];
  let i = 0;
  const isBlank = (line) => line.trim() === '';
  while (i < lines.length) {
    const line = lines[i];
    if (isBlank(line)) { i += 1; continue; }
    const fence = /^ {0,3}(```+|~~~+)/.exec(line);
    if (fence) {
      const code = [];
      i += 1;
      while (i < lines.length && !lines[i].trimStart().startsWith(fence[1])) { code.push(lines[i]); i += 1; }
      i += 1;
      blocks.push(h('pre', {}, h('code', {}, code.join('\n'))));
      continue;
    }
    const heading = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      blocks.push(h('h' + heading[1].length, {}, ...inline(heading[2])));
      i += 1;
      continue;
    }
    if (/^ {0,3}([-*_])(\s*\1){2,}\s*$/.test(line)) { blocks.push(h('hr')); i += 1; continue; }
    if (/^ {4}|\t/.test(line)) {
      const code = [];
      while (i < lines.length && (/^ {4}|\t/.test(lines[i]) || isBlank(lines[i]))) { code.push(lines[i].replace(/^( {4}|\t)/, '')); i += 1; }
      blocks.push(h('pre', {}, h('code', {}, code.join('\n').replace(/\n+$/, ''))));
      continue;
    }
    if (/^ {0,3}>/.test(line)) {
      const quoted = [];
      while (i < lines.length && /^ {0,3}>/.test(lines[i])) { quoted.push(lines[i].replace(/^ {0,3}> ?/, '')); i += 1; }
      blocks.push(h('blockquote', {}, ...renderMarkdown(quoted.join('\n'))));
      continue;
    }
    const item = /^ {0,3}([-*+]|\d{1,9}[.)])\s+(.*)$/;
    if (item.test(line)) {
      const ordered = /\d/.test(item.exec(line)[1]);
      const items = [];
      while (i < lines.length && item.test(lines[i]) && /\d/.test(item.exec(lines[i])[1]) === ordered) {
        const text = [item.exec(lines[i])[2]];
        i += 1;
        // Continuation lines (indented, not a new item) belong to the item.
        while (i < lines.length && !isBlank(lines[i]) && !item.test(lines[i]) && /^\s+/.test(lines[i])) { text.push(lines[i].trim()); i += 1; }
        items.push(h('li', {}, ...inline(text.join(' '))));
      }
      blocks.push(h(ordered ? 'ol' : 'ul', {}, ...items));
      continue;
    }
    const paragraph = [];
    while (i < lines.length && !isBlank(lines[i]) && !/^ {0,3}(#{1,6}\s|```|~~~|>|[-*+]\s|\d{1,9}[.)]\s)/.test(lines[i])) {
      paragraph.push(lines[i].trim());
      i += 1;
    }
    if (!paragraph.length) { paragraph.push(line.trim()); i += 1; }
    blocks.push(h('p', {}, ...inline(paragraph.join(' '))));
  }
  return blocks;
}

/** Whether a file is Markdown by its name. */
export function isMarkdown(name) {
  return /\.(md|markdown|mdown|mkd)$/i.test(name || '');
}
