import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DecodeError, buildMergedMg, parseMergedMg, sanitizeSharedFileName } from '../../../src/index.js';

describe('merged.mg', () => {
  it('builds the group line and one header per file with the exact byte size', () => {
    const data = buildMergedMg(
      [
        { name: 'agent.conf', content: '<agent_config>\n</agent_config>\n' },
        { name: 'é.txt', content: Buffer.from('ü') },
      ],
      'default',
    );
    expect(data.toString('utf8')).toBe('#default\n!31 agent.conf\n<agent_config>\n</agent_config>\n!2 é.txt\nü');
  });

  it('parses a hand-written bundle, skipping lines that do not start with !', () => {
    const text = '#linux\nnoise line\n!5 a.txt\nhello!0 empty\n\n!3 b\n!!!';
    const r = parseMergedMg(Buffer.from(text));
    expect(r.group).toBe('linux');
    expect(r.files.map((f) => [f.name, f.content.toString()])).toEqual([
      ['a.txt', 'hello'],
      ['empty', ''],
      ['b', '!!!'],
    ]);
  });

  it('round-trips files with binary content and newlines, with and without a group', () => {
    const files = [
      { name: 'bin', content: Buffer.from([0, 10, 33, 255, 10]) },
      { name: 'rootcheck/rules.txt', content: Buffer.from('!not a header\n') },
    ];
    for (const group of ['g1', undefined]) {
      const r = parseMergedMg(buildMergedMg(files, group));
      expect(r.group).toBe(group);
      expect(r.files).toEqual(files);
    }
    expect(parseMergedMg(Buffer.alloc(0))).toEqual({ files: [] });
  });

  it('keeps the md5 of the bundle stable for the same input', () => {
    const a = buildMergedMg([{ name: 'x', content: 'y' }], 'g');
    expect(createHash('md5').update(a).digest('hex')).toBe(createHash('md5').update(Buffer.from('#g\n!1 x\ny')).digest('hex'));
  });

  it('rejects bad headers and truncated entries with ERR_DECODE_MESSAGE', () => {
    for (const bad of ['!x a\n', '!5\n', '!5 \nhello', '!10 a\nshort', '!3 a', '!-1 a\n']) {
      try {
        parseMergedMg(Buffer.from(bad));
        expect.unreachable(bad);
      } catch (e) {
        expect(e).toBeInstanceOf(DecodeError);
        expect((e as DecodeError).code).toBe('ERR_DECODE_MESSAGE');
      }
    }
  });

  it('refuses names with a newline when building', () => {
    expect(() => buildMergedMg([{ name: 'a\nb', content: '' }])).toThrow();
    expect(() => buildMergedMg([{ name: '', content: '' }])).toThrow();
  });
});

describe('sanitizeSharedFileName', () => {
  it('replaces slashes and a leading dot with dashes', () => {
    expect(sanitizeSharedFileName('merged.mg')).toBe('merged.mg');
    expect(sanitizeSharedFileName('a/b/c')).toBe('a-b-c');
    expect(sanitizeSharedFileName('.hidden')).toBe('-hidden');
    expect(sanitizeSharedFileName('/etc/passwd')).toBe('-etc-passwd');
  });

  it('refuses names containing .. or empty names', () => {
    for (const bad of ['..', '../x', 'a/../b', 'a..b', '']) {
      expect(() => sanitizeSharedFileName(bad)).toThrow(DecodeError);
    }
  });
});
