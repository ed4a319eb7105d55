/**
 * Small Markdown readers for the documentation tests: fenced code blocks, links and heading
 * anchors, as GitHub renders them. Deliberately simple: the docs are plain CommonMark.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The repository root. */
export const ROOT = new URL('../../../', import.meta.url).pathname;

/** A fenced code block. */
export interface CodeBlock {
  /** The info string's first word (`ts`, `sh`, `yaml`, ...), lowercase; empty when none. */
  lang: string;
  /** The rest of the info string (`run` marks a TypeScript block the docs test executes). */
  info: string;
  /** The block's text, without the fences. */
  code: string;
  /** 1-based line number of the first line of code in the Markdown file. */
  line: number;
}

/** A Markdown link or image target. */
export interface Link {
  /** The target as written. */
  target: string;
  /** 1-based line number. */
  line: number;
}

/**
 * The documentation files the tests check: README.md, docs/*.md and examples/README.md.
 *
 * @returns repository-relative paths.
 */
export function docFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs, 'examples/README.md'].filter((f) => {
    try {
      readFileSync(join(ROOT, f));
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Reads a repository file as UTF-8.
 *
 * @param rel - repository-relative path.
 * @returns its text.
 */
export function readDoc(rel: string): string {
  return readFileSync(join(ROOT, rel), 'utf8');
}

/**
 * The fenced code blocks of a Markdown text (``` and ~~~ fences).
 *
 * @param text - the Markdown.
 * @returns the blocks in order.
 */
export function codeBlocks(text: string): CodeBlock[] {
  const lines = text.split('\n');
  const out: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)\s*([^`]*)$/.exec(lines[i]!);
    if (!open) continue;
    const fence = open[2]!;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const l = lines[j]!;
      if (l.trim().startsWith(fence[0]!.repeat(fence.length)) && l.trim().replace(new RegExp(`^\\${fence[0]}+`), '') === '') break;
      body.push(l);
    }
    out.push({ lang: (open[3] ?? '').toLowerCase(), info: (open[4] ?? '').trim(), code: body.join('\n'), line: i + 2 });
    i = j;
  }
  return out;
}

/**
 * The text outside fenced code blocks and inline code spans, with line structure kept.
 *
 * @param text - the Markdown.
 * @param keepInlineCode - keep inline code spans (for headings).
 * @returns the prose, code replaced by blanks.
 */
export function prose(text: string, keepInlineCode = false): string {
  const lines = text.split('\n');
  let inFence: string | undefined;
  return lines
    .map((l) => {
      const fence = /^\s*(`{3,}|~{3,})/.exec(l)?.[1];
      if (inFence !== undefined) {
        if (fence !== undefined && fence[0] === inFence[0] && fence.length >= inFence.length) inFence = undefined;
        return '';
      }
      if (fence !== undefined) {
        inFence = fence;
        return '';
      }
      return keepInlineCode ? l : l.replace(/`[^`]*`/g, (m) => ' '.repeat(m.length));
    })
    .join('\n');
}

/**
 * Inline links and images (`[text](target)`, `![alt](target)`) and reference definitions
 * (`[name]: target`) outside code.
 *
 * @param text - the Markdown.
 * @returns the targets with their line numbers.
 */
export function links(text: string): Link[] {
  const out: Link[] = [];
  for (const [i, l] of prose(text).split('\n').entries()) {
    for (const m of l.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ target: m[1]!, line: i + 1 });
    const def = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$/.exec(l);
    if (def) out.push({ target: def[1]!, line: i + 1 });
  }
  return out;
}

/**
 * GitHub's anchor for a heading text: lowercase, punctuation removed, spaces to dashes.
 *
 * @param heading - the heading text (inline code and emphasis markers included).
 * @returns the anchor without `#`.
 */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/<[^>]+>/g, '')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/**
 * Every anchor a Markdown file defines through its headings (duplicates get `-1`, `-2`, ...).
 *
 * @param text - the Markdown.
 * @returns the anchors.
 */
export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const l of prose(text, true).split('\n')) {
    const h = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(l);
    if (!h) continue;
    const base = slug(h[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}
