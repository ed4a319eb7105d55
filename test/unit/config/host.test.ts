import { describe, expect, it } from 'vitest';
import { hostname, machine, release, type, version } from 'node:os';
import { readFileSync } from 'node:fs';
import { defaultAgentName, hostUname, parseOsRelease } from '../../../src/index.js';

describe('parseOsRelease', () => {
  it('reads NAME, ID and VERSION with quotes and escapes', () => {
    const text = [
      '# comment',
      'PRETTY_NAME="Ubuntu 22.04.3 LTS"',
      'NAME="Ubuntu"',
      'VERSION_ID="22.04"',
      'VERSION="22.04.3 LTS (Jammy Jellyfish)"',
      'ID=ubuntu',
      'ID_LIKE=debian',
      '',
    ].join('\n');
    expect(parseOsRelease(text)).toEqual({ osName: 'Ubuntu', osPlatform: 'ubuntu', osVersion: '22.04.3 LTS (Jammy Jellyfish)' });
    expect(parseOsRelease('NAME="A \\"quoted\\" \\$name"\nID=\'x\'\n')).toEqual({ osName: 'A "quoted" $name', osPlatform: 'x', osVersion: '' });
  });

  it('falls back to VERSION_ID when VERSION is missing', () => {
    expect(parseOsRelease('NAME="Arch Linux"\nID=arch\nVERSION_ID=20240101\n')?.osVersion).toBe('20240101');
  });

  it('gives nothing without NAME or ID', () => {
    expect(parseOsRelease('ID=x\n')).toBeUndefined();
    expect(parseOsRelease('NAME=x\n')).toBeUndefined();
    expect(parseOsRelease('garbage\n=\n')).toBeUndefined();
  });
});

describe('hostUname', () => {
  it('describes this host from node:os', () => {
    const u = hostUname();
    expect(u).toMatchObject({ sysname: type(), nodename: hostname(), release: release(), version: version(), machine: machine() });
  });

  it('adds the os-release fields when the file is readable', () => {
    let text: string | undefined;
    for (const p of ['/etc/os-release', '/usr/lib/os-release']) {
      try {
        text = readFileSync(p, 'utf8');
        break;
      } catch {
        // next
      }
    }
    const expected = text === undefined ? undefined : parseOsRelease(text);
    const u = hostUname();
    if (expected) expect(u).toMatchObject(expected);
    else expect(u.osName).toBeUndefined();
  });

  it('returns a fresh object each call', () => {
    const a = hostUname();
    a.nodename = 'changed';
    expect(hostUname().nodename).toBe(hostname());
  });
});

describe('defaultAgentName', () => {
  it('removes characters outside [A-Za-z0-9._-]', () => {
    expect(defaultAgentName('web 01+prod.example_x-y')).toBe('web01prod.example_x-y');
    expect(defaultAgentName('ñandú')).toBe('and');
  });
});
