/**
 * The XML layer of the ossec.conf reader: the text parsed into a tree of {@link XNode}s (several root
 * elements and bare `&` accepted, as Wazuh's own parser does; error positions given in the original
 * text), and the readers of one element's value.
 *
 * @module
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { ConfigError } from '../errors.js';
import { configError } from './validate.js';

/** One XML element with its attributes, children in order and its own text (trimmed). */
export interface XNode {
  name: string;
  attrs: Record<string, string>;
  children: XNode[];
  text: string;
}

const WRAPPER = 'agentlink-ossec-root';
const OPEN = `<${WRAPPER}>`;
const CLOSE = `</${WRAPPER}>`;
/** A `&` that does not start an entity or character reference. */
const BARE_AMP_RE = /<!--[\s\S]*?-->|<!\[CDATA\[[\s\S]*?\]\]>|&(?!(?:[A-Za-z_:][\w.:-]*|#\d+|#x[0-9A-Fa-f]+);)/g;

interface Insert {
  /** Offset in the original text before which text was inserted. */
  at: number;
  /** Length of the inserted text. */
  len: number;
}

/**
 * Parses the text into its root elements. Real ossec.conf files have several roots and may hold a bare
 * `&` in a command (Wazuh's own parser takes both), so the text is wrapped in one root and bare `&` are
 * escaped before validation; error positions are mapped back to the original text.
 */
export function parseXmlRoots(xml: string): XNode[] {
  const rootAt = prologEnd(xml);
  const inserts: Insert[] = [{ at: rootAt, len: OPEN.length }];
  const body = xml.slice(rootAt).replace(BARE_AMP_RE, (m: string, offset: number) => {
    if (m !== '&') return m;
    inserts.push({ at: rootAt + offset + 1, len: 4 });
    return '&amp;';
  });
  inserts.push({ at: xml.length, len: CLOSE.length });
  const prepared = xml.slice(0, rootAt) + OPEN + body + CLOSE;

  const result = XMLValidator.validate(prepared, { allowBooleanAttributes: false });
  if (result !== true) {
    const toOriginal = (line: number, col: number) => lineCol(xml, mapOffset(offsetOf(prepared, line, col), inserts));
    const pos = toOriginal(result.err.line, result.err.col ?? 1);
    const reason = result.err.msg
      .replace(/line (\d+), col (\d+)/g, (_m, l: string, c: string) => {
        const p = toOriginal(Number(l), Number(c));
        return `line ${p.line}, column ${p.column}`;
      })
      .replaceAll(`closing tag '${WRAPPER}'`, 'the end of the file')
      .replaceAll(`'${WRAPPER}'`, 'the document');
    throw xmlError(reason, pos);
  }

  let tree: unknown;
  try {
    tree = new XMLParser({
      preserveOrder: true,
      ignoreAttributes: false,
      attributeNamePrefix: '',
      allowBooleanAttributes: false,
      parseTagValue: false,
      parseAttributeValue: false,
      trimValues: true,
      processEntities: true,
      htmlEntities: true,
      ignoreDeclaration: true,
      ignorePiTags: true,
    }).parse(prepared);
  } catch (err) {
    throw new ConfigError(
      `ossec.conf cannot be parsed: ${err instanceof Error ? err.message : String(err)}`,
      { element: 'ossec.conf', cause: err },
      'ERR_CONFIG_XML',
    );
  }
  const top = toNodes(tree);
  const wrapper = top.find((n) => n.name === WRAPPER);
  if (!wrapper) throw xmlError('no root element', { line: 1, column: 1 });
  if (wrapper.text !== '') {
    const snippet = wrapper.text.slice(0, 40);
    const at = xml.indexOf(snippet.slice(0, 20));
    throw xmlError(`text outside any element: ${JSON.stringify(snippet)}`, lineCol(xml, Math.max(0, at)));
  }
  if (wrapper.children.length === 0) throw xmlError('no root element', lineCol(xml, xml.length));
  return wrapper.children;
}

function xmlError(reason: string, pos: { line: number; column: number }): ConfigError {
  return new ConfigError(
    `ossec.conf is not valid XML at line ${pos.line}, column ${pos.column}: ${reason}`,
    { element: `line ${pos.line}, column ${pos.column}`, value: pos },
    'ERR_CONFIG_XML',
  );
}

/** Where the root element may start: after the BOM, XML declaration, comments, PIs and DOCTYPE. */
function prologEnd(xml: string): number {
  let i = xml.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (;;) {
    while (i < xml.length && /\s/.test(xml[i] ?? '')) i++;
    if (xml.startsWith('<?', i)) {
      const end = xml.indexOf('?>', i + 2);
      if (end < 0) return i;
      i = end + 2;
    } else if (xml.startsWith('<!--', i)) {
      const end = xml.indexOf('-->', i + 4);
      if (end < 0) return i;
      i = end + 3;
    } else if (xml.startsWith('<!DOCTYPE', i)) {
      const end = doctypeEnd(xml, i + 9);
      if (end < 0) return i;
      i = end + 1;
    } else {
      return i;
    }
  }
}

/** Index of the `>` closing a DOCTYPE, skipping quoted strings and the `[...]` internal subset. */
function doctypeEnd(xml: string, from: number): number {
  let depth = 0;
  let quote = '';
  for (let i = from; i < xml.length; i++) {
    const c = xml[i];
    if (quote !== '') {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[') depth++;
    else if (c === ']') depth--;
    else if (c === '>' && depth <= 0) return i;
  }
  return -1;
}

function offsetOf(text: string, line: number, col: number): number {
  let offset = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf('\n', offset);
    if (nl < 0) return text.length;
    offset = nl + 1;
  }
  return Math.min(text.length, offset + Math.max(0, col - 1));
}

function mapOffset(prepared: number, inserts: readonly Insert[]): number {
  let delta = 0;
  for (const ins of inserts) {
    const start = ins.at + delta;
    if (prepared < start) break;
    if (prepared < start + ins.len) return ins.at;
    delta += ins.len;
  }
  return prepared - delta;
}

function lineCol(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** Converts fast-xml-parser's `preserveOrder` output into {@link XNode}s. */
function toNodes(entries: unknown): XNode[] {
  const out: XNode[] = [];
  if (!Array.isArray(entries)) return out;
  for (const entry of entries) {
    if (typeof entry !== 'object' || entry === null) continue;
    for (const [name, value] of Object.entries(entry as Record<string, unknown>)) {
      if (name === ':@' || name === '#text' || name.startsWith('?')) continue;
      const attrsRaw = (entry as Record<string, unknown>)[':@'];
      const attrs: Record<string, string> = {};
      if (typeof attrsRaw === 'object' && attrsRaw !== null) {
        for (const [k, v] of Object.entries(attrsRaw)) attrs[k] = String(v);
      }
      const node: XNode = { name, attrs, children: toNodes(value), text: '' };
      if (Array.isArray(value)) {
        node.text = value
          .map((c: unknown) => (typeof c === 'object' && c !== null && '#text' in c ? String((c as Record<string, unknown>)['#text']) : ''))
          .join('')
          .trim();
      }
      out.push(node);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Value readers (messages name the element, as Wazuh's do)

export function intValue(node: XNode, element: string, min: number, max: number, unit = ''): number {
  const text = node.text;
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= min && n <= max)) {
    throw configError(element, `${element} must be an integer from ${min} to ${max}${unit ? ` ${unit}` : ''}; got ${JSON.stringify(text)}`, text);
  }
  return n;
}

export function yesNo(node: XNode, element: string): boolean {
  const t = node.text.toLowerCase();
  if (t === 'yes') return true;
  if (t === 'no') return false;
  throw configError(element, `${element} must be 'yes' or 'no'; got ${JSON.stringify(node.text)}`, node.text);
}

export function nonEmpty(node: XNode, element: string): string {
  if (node.text === '') throw configError(element, `${element} must not be empty`, node.text);
  return node.text;
}

export function invalidElement(element: string, allowed: readonly string[]): ConfigError {
  return configError(
    element,
    `Invalid element in the configuration: '${element}'. Allowed here: ${allowed.join(', ')}`,
    element.slice(element.lastIndexOf('/') + 1),
  );
}
