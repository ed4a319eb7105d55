import { afterEach, describe, expect, test, vi } from 'vitest';
import { main, MAIN_USAGE } from '../../../src/cli/main.js';
import { AbortError, ConfigError, ConnectionError, ToolError } from '../../../src/index.js';
import { agentlinkVersion, SIMULATE_USAGE } from '../../../src/simulator/index.js';
import { testIo } from './helpers.js';

const demoRun = vi.hoisted(() => ({ impl: undefined as undefined | ((argv: string[]) => Promise<number>) }));
vi.mock('../../../src/cli/demo.js', () => ({
  run: (argv: string[]) => (demoRun.impl ? demoRun.impl(argv) : Promise.resolve(0)),
}));

afterEach(() => {
  demoRun.impl = undefined;
});

describe('main: usage errors', () => {
  test.each([
    [['simulate', '--agents', '1', '--cluster', '1', '--bogus'], /^agentlink simulate: unknown flag '--bogus'/],
    [['simulate', '--cluster', '3'], /^agentlink simulate: --agents is required/],
    [['simulate', '--agents', '1', '--cluster', '2', '--manager', 'h'], /^agentlink simulate: --manager and --cluster both name a target/],
    [['simulate', '--agents', '5', '--cluster', '2', '--duration', 'soon'], /^agentlink simulate: --duration 'soon' is not a duration/],
    [['keys', 'generate', 'many'], /^agentlink keys: N must be a whole number/],
    [['report', 'merge'], /^agentlink report: give the reports to merge/],
    [['report', 'frobnicate'], /^agentlink report: unknown subcommand 'frobnicate'/],
    [['simulat'], /^agentlink: unknown command 'simulat'; did you mean simulate\?/],
  ])('%j returns 2 with one line on stderr', async (argv, message) => {
    const io = testIo();
    expect(await main(argv, io)).toBe(2);
    expect(io.stderr.lines).toHaveLength(1);
    expect(io.stderr.lines[0]).toMatch(message);
    expect(io.stderr.text).not.toMatch(/\n\s+at /);
    expect(io.stdout.text).toBe('');
  });

  test('no command prints the usage on stderr and returns 2', async () => {
    const io = testIo();
    expect(await main([], io)).toBe(2);
    expect(io.stderr.text).toContain('Usage: agentlink <command>');
  });
});

describe('main: help and version', () => {
  test('--version prints the package version', async () => {
    const io = testIo();
    expect(await main(['--version'], io)).toBe(0);
    expect(io.stdout.text).toBe(`${agentlinkVersion()}\n`);
    expect(io.stdout.text).toMatch(/^\d+\.\d+\.\d+/);
  });

  test('help, --help and <command> --help print usage on stdout', async () => {
    for (const argv of [['help'], ['--help'], ['-h']]) {
      const io = testIo();
      expect(await main(argv, io)).toBe(0);
      expect(io.stdout.text).toBe(`${MAIN_USAGE}\n`);
    }
    for (const argv of [['simulate', '--help'], ['help', 'simulate'], ['simulate', '--agents', '1', '-h']]) {
      const io = testIo();
      expect(await main(argv, io)).toBe(0);
      expect(io.stdout.text).toBe(`${SIMULATE_USAGE}\n`);
    }
    const keys = testIo();
    expect(await main(['keys', '--help'], keys)).toBe(0);
    expect(keys.stdout.text).toContain('agentlink keys generate N');
    const report = testIo();
    expect(await main(['help', 'report'], report)).toBe(0);
    expect(report.stdout.text).toContain('agentlink report merge');
  });
});

describe('main: errors from commands', () => {
  test('a ToolError or ConfigError from a command is one line and exit code 2', async () => {
    for (const err of [new ToolError('bad thing\nwith a second line', 'ERR_USAGE'), new ConfigError('client/server/port must be 1..65535')]) {
      demoRun.impl = () => Promise.reject(err);
      const io = testIo();
      expect(await main(['demo'], io)).toBe(2);
      expect(io.stderr.lines).toEqual([`agentlink demo: ${err.message.replace('\n', ' ')}`]);
    }
  });

  test('other errors are one line with exit code 1, and the stack only with AGENTLINK_DEBUG=1', async () => {
    demoRun.impl = () => Promise.reject(new TypeError('x is undefined'));
    const io = testIo();
    expect(await main(['demo'], io)).toBe(1);
    expect(io.stderr.lines).toEqual(['agentlink demo: unexpected error: x is undefined (set AGENTLINK_DEBUG=1 for the stack trace)']);

    const debug = testIo({ env: { AGENTLINK_DEBUG: '1' } });
    expect(await main(['demo'], debug)).toBe(1);
    expect(debug.stderr.lines[0]).toBe('agentlink demo: unexpected error: x is undefined');
    expect(debug.stderr.text).toMatch(/\n\s+at /);

    demoRun.impl = () => Promise.reject(new ConnectionError('Unable to connect to [127.0.0.1]:1/tcp', 'ERR_CONNECT'));
    const conn = testIo();
    expect(await main(['demo'], conn)).toBe(1);
    expect(conn.stderr.lines).toEqual(['agentlink demo: Unable to connect to [127.0.0.1]:1/tcp (ERR_CONNECT)']);
  });

  test('a ToolError other than ERR_USAGE is a failure: exit code 1 and its code', async () => {
    for (const code of ['ERR_EXTERNAL_PROGRAM', 'ERR_RESOURCE_LIMIT', 'ERR_LISTEN'] as const) {
      demoRun.impl = () => Promise.reject(new ToolError('it failed', code));
      const io = testIo();
      expect(await main(['demo'], io)).toBe(1);
      expect(io.stderr.lines).toEqual([`agentlink demo: it failed (${code})`]);
    }
  });

  test('an abort ends the command quietly with exit code 130', async () => {
    const controller = new AbortController();
    controller.abort();
    demoRun.impl = () => Promise.reject(new AbortError('interrupted by SIGINT'));
    const io = testIo({ signal: controller.signal });
    expect(await main(['demo'], io)).toBe(130);
    expect(io.stderr.text).toBe('');
  });

  test('a command exit code is passed through', async () => {
    demoRun.impl = async (argv) => argv.length;
    expect(await main(['demo', 'a', 'b', 'c'], testIo())).toBe(3);
  });
});
