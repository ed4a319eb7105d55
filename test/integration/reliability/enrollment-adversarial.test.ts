/**
 * Enrollment under attack: raw request lines with injection attempts, quotes, spaces, NUL and CR
 * bytes, oversize fields and 100 KB lines sent over TLS to MockAuthd must get authd's error texts
 * (protocol.md 7.2, 7.4), enroll nothing they should not, and leave the server serving. TLS
 * downgrades are refused. The client side refuses to build an injected request at all.
 */
import { connect as tlsConnect } from 'node:tls';
import type { ConnectionOptions } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentClient, ConfigError } from '../../../src/index.js';
import { enroll } from '../../../src/enrollment/client.js';
import { MockAuthd, KeyStore } from '../../../src/testing/index.js';
import type { Cleanups } from './helpers.js';
import { memoryLogger, runCleanups } from './helpers.js';

const cleanups: Cleanups = [];
afterEach(() => runCleanups(cleanups));

const PASSWORD = 'authd-Pa55word';

async function authd(password?: string): Promise<{ authd: MockAuthd; keyStore: KeyStore; port: number }> {
  const keyStore = new KeyStore();
  const a = new MockAuthd({ keyStore, groups: ['default', 'linux'], requestTimeout: 3000, ...(password !== undefined ? { password } : {}) });
  cleanups.push(() => a.close());
  const { port } = await a.start();
  return { authd: a, keyStore, port };
}

interface RawReply {
  /** What authd sent before closing ('' when nothing). */
  reply: string;
  /** Whether the TLS handshake completed. */
  handshake: boolean;
  /** The TLS error code when the handshake failed. */
  tlsError: string | undefined;
}

/** Sends raw bytes over TLS and collects everything authd answers until it closes. */
function raw(port: number, bytes: Buffer | string, tls: Partial<ConnectionOptions> = {}): Promise<RawReply> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let handshake = false;
    let tlsError: string | undefined;
    const s = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...tls });
    const timer = setTimeout(() => s.destroy(), 5000);
    s.once('secureConnect', () => {
      handshake = true;
      s.write(bytes);
    });
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (!handshake) tlsError = e.code ?? e.message;
    });
    s.once('close', () => {
      clearTimeout(timer);
      resolve({ reply: Buffer.concat(chunks).toString('latin1'), handshake, tlsError });
    });
  });
}

const err = (reason: string): string => `ERROR: ${reason}. Unable to add agent`;

describe('enrollment under adversarial input', () => {
  it('refuses injection attempts, odd bytes and oversize fields with authd error texts, enrolls only what a real authd would, and keeps serving', async () => {
    const { authd: a, keyStore, port } = await authd();
    const longName = 'n'.repeat(200);
    const longGroup = 'g'.repeat(300);
    const cases: { line: Buffer | string; expect: string | RegExp | null }[] = [
      // a second request smuggled after the first newline is never read
      { line: "OSSEC A:'x' G:'a'\nOSSEC A:'y'\n", expect: err('Invalid agent name: x') },
      { line: "OSSEC A:'agent-x' G:'default'\nOSSEC A:'agent-y'\n", expect: /^OSSEC K:'001 agent-x any [0-9a-f]{64}'$/ },
      // the name ends at the first quote: text after it cannot add fields (no IP, no group taken from it)
      { line: "OSSEC A:'inj' x' IP:'10.9.9.9' G:'linux'\n", expect: /^OSSEC K:'002 inj any [0-9a-f]{64}'$/ },
      { line: "OSSEC A:'a b' V:'v4.14.7'\n", expect: err('Invalid agent name: a b') },
      { line: "OSSEC A:'q\"uote' V:'v4.14.7'\n", expect: err('Invalid agent name: q"uote') },
      { line: "OSSEC A:'ag\rent'\n", expect: err('Invalid agent name: ag\rent') },
      { line: Buffer.from("OSSEC A:'ag\0ent'\n", 'latin1'), expect: err('Invalid request for new agent') },
      { line: `OSSEC A:'${longName}'\n`, expect: err(`Invalid agent name: ${longName}`) },
      { line: `OSSEC A:'agent-lg' G:'${longGroup}'\n`, expect: err(`Invalid group name: ${'g'.repeat(255)}... group is too large`) },
      { line: "OSSEC A:'agent-pt' G:'default,../../etc'\n", expect: /^ERROR: Invalid group name: default,\.\.\/\.\.\/etc\.\.\. characters .* are prohibited\. Unable to add agent$/ },
      { line: "OSSEC A:'agent-ng' G:'nosuchgroup'\n", expect: err('Invalid group: nosuchgroup') },
      { line: "OSSEC A:'agent-ip' IP:'1.2.3.4 5.6.7.8'\n", expect: err('Unterminated IP field') },
      { line: "OSSEC A:'agent-ip2' IP:'999.1.1.1'\n", expect: err('Invalid IP: 999.1.1.1') },
      { line: "OSSEC A:'agent-v' V:'v9.0.0'\n", expect: err('Agent version must be lower or equal to manager version') },
      { line: "OSSEC A:'agent-unterminated\n", expect: err('Invalid request for new agent') },
      { line: `OSSEC PASS: ${PASSWORD} OSSEC A:'agent-pw'\n`, expect: err('Invalid request for new agent') }, // a password to a password-less authd
      { line: '\n', expect: err('Invalid request for new agent') },
      { line: Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80]), Buffer.from('\n')]), expect: err('Invalid request for new agent') },
      // 100 KB with no newline, and 100 KB ending in one: both exceed authd's 69632-byte buffer, closed without a reply
      { line: `OSSEC A:'${'z'.repeat(100_000)}`, expect: null },
      { line: `OSSEC A:'${'z'.repeat(100_000)}'\n`, expect: null },
    ];
    const replies = await Promise.all(cases.map((c) => raw(port, c.line)));
    replies.forEach((r, i) => {
      const want = cases[i]!.expect;
      expect(r.handshake, `case ${i}`).toBe(true);
      if (want === null) expect(r.reply, `case ${i}`).toBe('');
      else if (typeof want === 'string') expect(r.reply, `case ${i}`).toBe(want);
      else expect(r.reply, `case ${i}`).toMatch(want);
    });
    // exactly the two requests a real authd accepts, with nothing taken from the smuggled text
    expect(keyStore.list().map((k) => `${k.name} ${k.ip}`)).toEqual(['agent-x any', 'inj any']);
    expect(keyStore.groupsOf(keyStore.findByName('inj')!.id)).not.toContain('linux');
    expect(keyStore.findByName('agent-y')).toBeUndefined();
    const st = a.stats();
    expect(st.enrolled).toBe(2);
    expect(st.rejected).toBe(cases.length - 2 - 2); // two enrolled, two closed without reply
    // still serving
    const key = await enroll({ host: '127.0.0.1', port, name: 'after-the-storm', groups: ['linux'] });
    expect(keyStore.get(key.id)?.name).toBe('after-the-storm');
  });

  it('checks the password before anything else: injected or misplaced passwords are refused', async () => {
    const { authd: a, keyStore, port } = await authd(PASSWORD);
    const lines = [
      "OSSEC A:'agent-p'\n",
      `OSSEC PASS: wrong OSSEC A:'agent-p'\n`,
      `OSSEC A:'agent-p' PASS: ${PASSWORD}\n`,
      `OSSEC PASS: ${PASSWORD}\nOSSEC A:'agent-p'\n`,
      `OSSEC PASS: ${PASSWORD.slice(0, -1)} OSSEC A:'agent-p'\n`,
      `OSSEC PASS:  ${PASSWORD} OSSEC A:'agent-p'\n`,
    ];
    const replies = await Promise.all(lines.map((l) => raw(port, l)));
    expect(replies.map((r) => r.reply)).toEqual(lines.map(() => err('Invalid password')));
    expect(keyStore.size).toBe(0);
    expect(a.stats().rejectedByReason).toEqual({ 'Invalid password': lines.length });
    const ok = await raw(port, `OSSEC PASS: ${PASSWORD} OSSEC A:'agent-p'\n`);
    expect(ok.reply).toMatch(/^OSSEC K:'001 agent-p any [0-9a-f]{64}'$/);
  });

  it('refuses TLS 1.0 and TLS 1.1 clients at the handshake and keeps serving TLS 1.2+', async () => {
    const { authd: a, keyStore, port } = await authd();
    // SECLEVEL=0 lets the client offer the old versions at all, so the refusal is the server's
    const weak = { ciphers: 'DEFAULT@SECLEVEL=0', minVersion: 'TLSv1' as const };
    const v10 = await raw(port, "OSSEC A:'old-tls'\n", { ...weak, maxVersion: 'TLSv1' });
    const v11 = await raw(port, "OSSEC A:'old-tls'\n", { ...weak, maxVersion: 'TLSv1.1' });
    for (const r of [v10, v11]) {
      expect(r.handshake).toBe(false);
      expect(r.tlsError).toMatch(/PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|WRONG_VERSION|ECONNRESET/);
      expect(r.reply).toBe('');
    }
    expect(a.stats().tlsErrors).toBe(2);
    expect(keyStore.size).toBe(0);
    const v12 = await raw(port, "OSSEC A:'new-tls'\n", { ...weak, maxVersion: 'TLSv1.2' });
    expect(v12.reply).toMatch(/^OSSEC K:'001 new-tls /);
  });

  it('the client builder refuses injected names, groups, addresses and passwords with ConfigError before connecting, and never echoes the password', async () => {
    const { authd: a, port } = await authd(PASSWORD);
    const log = memoryLogger();
    const bad: { opts: Parameters<typeof enroll>[0]; element: string }[] = [
      { opts: { host: '127.0.0.1', port, name: "ab' G:'admin" }, element: 'enrollment.agentName' },
      { opts: { host: '127.0.0.1', port, name: "ab\nOSSEC A:'evil'" }, element: 'enrollment.agentName' },
      { opts: { host: '127.0.0.1', port, name: 'a b' }, element: 'enrollment.agentName' },
      { opts: { host: '127.0.0.1', port, name: 'ag\0ent' }, element: 'enrollment.agentName' },
      { opts: { host: '127.0.0.1', port, name: 'n'.repeat(129) }, element: 'enrollment.agentName' },
      { opts: { host: '127.0.0.1', port, name: 'good', groups: ["default' IP:'1.2.3.4"] }, element: 'enrollment.groups' },
      { opts: { host: '127.0.0.1', port, name: 'good', groups: ["a\nOSSEC A:'evil'"] }, element: 'enrollment.groups' },
      { opts: { host: '127.0.0.1', port, name: 'good', groups: ['default,admin'] }, element: 'enrollment.groups' },
      { opts: { host: '127.0.0.1', port, name: 'good', groups: ['..'] }, element: 'enrollment.groups' },
      { opts: { host: '127.0.0.1', port, name: 'good', agentAddress: "1.2.3.4' K:'x" }, element: 'enrollment.agentAddress' },
      { opts: { host: '127.0.0.1', port, name: 'good', password: `${PASSWORD}\nOSSEC A:'evil'` }, element: 'enrollment.password' },
      { opts: { host: '127.0.0.1', port, name: 'good', password: `${PASSWORD}\0` }, element: 'enrollment.password' },
    ];
    for (const { opts, element } of bad) {
      const e = await enroll({ ...opts, logger: log.logger }).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e, element).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).element).toBe(element);
      expect((e as Error).message).not.toContain(PASSWORD);
      if (element === 'enrollment.password') expect((e as ConfigError).value).toBe('[redacted]');
    }
    // AgentClient refuses the same at construction (name) or before its first enrollment connection (password)
    expect(() => new AgentClient({ servers: [{ address: '127.0.0.1' }], enrollment: { enabled: true, agentName: "x' G:'admin", managerAddress: '127.0.0.1', port } })).toThrow(
      ConfigError,
    );
    const c = new AgentClient({
      servers: [{ address: '127.0.0.1' }],
      enrollment: { enabled: true, agentName: 'good-agent', managerAddress: '127.0.0.1', port, password: `${PASSWORD}\nOSSEC A:'evil'` },
      logger: log.logger,
    });
    c.on('error', () => {});
    cleanups.push(() => c.stop({ drainTimeout: 0 }));
    await expect(c.start()).rejects.toBeInstanceOf(ConfigError);
    expect(c.state).toBe('closed');
    // nothing ever reached authd, and the password never reached a log line
    expect(a.stats().connections).toBe(0);
    expect(log.lines.filter((l) => l.includes(PASSWORD))).toEqual([]);
  });
});
