import { describe, expect, it } from 'vitest';
import { enroll, enrollWithFallback, AbortError, EnrollmentError } from '../../../src/index.js';
import type { EnrollmentAttemptFailure } from '../../../src/index.js';
import { HOST, closedPort, recordingClock, startAuthd, startTcpServer, startTlsServer } from './helpers.js';

describe('enroll failures', () => {
  it('rejects with AbortError when aborted while waiting for the reply', async () => {
    const { authd, port } = await startAuthd();
    authd.setFaults({ delayMs: 10_000 });
    const controller = new AbortController();
    const pending = enroll({ host: HOST, port, name: 'agent1', signal: controller.signal });
    setTimeout(() => controller.abort(new Error('stop')), 50);
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect((err as AbortError).code).toBe('ERR_ABORTED');
  });

  it('rejects with AbortError when aborted during the wait between retries', async () => {
    const port = await closedPort();
    const controller = new AbortController();
    const pending = enroll({ host: HOST, port, name: 'agent1', retries: 5, retryDelay: 10_000, signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    expect(await pending.catch((e: unknown) => e)).toBeInstanceOf(AbortError);
  });

  it('times out against a server that accepts TCP and never answers', async () => {
    const { port } = await startTcpServer(() => undefined);
    const err = await enroll({ host: HOST, port, name: 'agent1', timeout: 200 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnrollmentError);
    expect((err as EnrollmentError).code).toBe('ERR_ENROLLMENT_CONNECTION');
    expect((err as EnrollmentError).message).toContain('no reply within 200 ms');
  });

  it('reports a refused connection as ERR_ENROLLMENT_CONNECTION', async () => {
    const port = await closedPort();
    const err = await enroll({ host: HOST, port, name: 'agent1' }).catch((e: unknown) => e);
    expect((err as EnrollmentError).code).toBe('ERR_ENROLLMENT_CONNECTION');
    expect((err as EnrollmentError).message).toContain('ECONNREFUSED');
  });

  it('reports a close without reply as ERR_ENROLLMENT_CONNECTION', async () => {
    const { authd, port } = await startAuthd();
    authd.setFaults({ closeWithoutReply: true });
    const err = await enroll({ host: HOST, port, name: 'agent1' }).catch((e: unknown) => e);
    expect((err as EnrollmentError).code).toBe('ERR_ENROLLMENT_CONNECTION');
    expect((err as EnrollmentError).message).toContain('without replying');
  });

  it('retries connection errors up to `retries` times', async () => {
    const server = await startTcpServer((socket) => socket.destroy());
    const err = await enroll({ host: HOST, port: server.port, name: 'agent1', retries: 2, retryDelay: 10 }).catch((e: unknown) => e);
    expect((err as EnrollmentError).code).toBe('ERR_ENROLLMENT_CONNECTION');
    expect(server.connections()).toBe(3);
  });

  it('succeeds on a retry once the connection works', async () => {
    const { authd, port } = await startAuthd();
    authd.setFaults({ closeWithoutReply: true });
    authd.once('rejected', () => undefined);
    let seen = 0;
    const key = await enroll({
      host: HOST,
      port,
      name: 'agent1',
      retries: 3,
      retryDelay: 10,
      logger: {
        debug: (obj: object | string) => {
          if (typeof obj === 'object' && 'code' in obj) {
            seen++;
            authd.setFaults({ closeWithoutReply: false });
          }
        },
        info: () => undefined,
        warn: () => undefined,
        error: () => undefined,
        child() {
          return this;
        },
      },
    });
    expect(key.id).toBe('001');
    expect(seen).toBe(1);
    expect(authd.stats().connections).toBe(2);
  });

  it('does not retry a refusal', async () => {
    const { authd, port } = await startAuthd();
    authd.setFaults({ rejectAll: 'Go away' });
    const err = await enroll({ host: HOST, port, name: 'agent1', retries: 3, retryDelay: 10 }).catch((e: unknown) => e);
    expect((err as EnrollmentError).code).toBe('ERR_ENROLLMENT_REJECTED');
    expect((err as EnrollmentError).managerMessage).toBe('Go away');
    expect(authd.stats().connections).toBe(1);
  });

  it('reports a reply that is not authd’s as ERR_ENROLLMENT_RESPONSE, without retrying', async () => {
    const server = await startTlsServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    const err = await enroll({ host: HOST, port: server.port, name: 'agent1', retries: 2, retryDelay: 10 }).catch((e: unknown) => e);
    expect((err as EnrollmentError).code).toBe('ERR_ENROLLMENT_RESPONSE');
    expect(server.connections()).toBe(1);
  });

  it('accepts a reply split across writes and the v4.0-4.12 two-message error form', async () => {
    const ok = await startTlsServer((socket) => {
      socket.once('data', () => {
        socket.write("OSSEC K:'042 agent1 ");
        setTimeout(() => socket.end(`any ${'f'.repeat(64)}'`), 20);
      });
    });
    expect(await enroll({ host: HOST, port: ok.port, name: 'agent1' })).toEqual({ id: '042', name: 'agent1', ip: 'any', key: 'f'.repeat(64) });

    const legacy = await startTlsServer((socket) => {
      socket.once('data', () => {
        socket.write('ERROR: Duplicate agent name: agent1');
        setTimeout(() => socket.end('ERROR: Unable to add agent'), 20);
      });
    });
    const err = await enroll({ host: HOST, port: legacy.port, name: 'agent1' }).catch((e: unknown) => e);
    expect((err as EnrollmentError).managerMessage).toBe('Duplicate agent name: agent1');
  });

  it('never passes the password or the key to the logger', async () => {
    const { authd, port } = await startAuthd({ password: 'topsecret' });
    const logged: string[] = [];
    const record = (obj: object | string, msg?: string): void => void logged.push(JSON.stringify(obj) + (msg ?? ''));
    const logger = { debug: record, info: record, warn: record, error: record, child: () => logger };
    const key = await enroll({ host: HOST, port, name: 'agent1', password: 'topsecret', logger });
    authd.setFaults({ rejectAll: 'Nope' });
    await enroll({ host: HOST, port, name: 'agent2', password: 'topsecret', logger }).catch(() => undefined);
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.join('\n')).not.toContain('topsecret');
    expect(logged.join('\n')).not.toContain(key.key);
  });
});

describe('enrollWithFallback', () => {
  it('tries hosts in order each round and backs off 5 s, 10 s between rounds', async () => {
    const dead = await closedPort();
    const refusing = await startAuthd();
    refusing.authd.setFaults({ rejectAll: 'Maintenance' });
    const good = await startAuthd();
    good.authd.setFaults({ rejectAll: 'Not yet' });
    const { clock, delays } = recordingClock();
    const failures: string[] = [];
    const onAttemptFailed = (f: EnrollmentAttemptFailure): void => {
      const which = f.port === dead ? 'dead' : f.port === refusing.port ? 'refusing' : 'good';
      failures.push(`${f.round}:${which}:${f.error.code}`);
      if (f.round === 2 && which === 'good') good.authd.setFaults({ rejectAll: undefined });
    };
    const key = await enrollWithFallback({
      hosts: [
        { host: HOST, port: dead },
        { host: HOST, port: refusing.port },
        { host: HOST, port: good.port },
      ],
      name: 'agent1',
      timeout: 0,
      clock,
      onAttemptFailed,
    });
    expect(failures).toEqual([
      '1:dead:ERR_ENROLLMENT_CONNECTION',
      '1:refusing:ERR_ENROLLMENT_REJECTED',
      '1:good:ERR_ENROLLMENT_REJECTED',
      '2:dead:ERR_ENROLLMENT_CONNECTION',
      '2:refusing:ERR_ENROLLMENT_REJECTED',
      '2:good:ERR_ENROLLMENT_REJECTED',
      '3:dead:ERR_ENROLLMENT_CONNECTION',
      '3:refusing:ERR_ENROLLMENT_REJECTED',
    ]);
    expect(delays).toEqual([5_000, 10_000]);
    expect(good.keyStore.get(key.id)).toEqual(key);
  });

  it('uses the shared port for plain host names and stops at the first success', async () => {
    const { port } = await startAuthd();
    const { clock, delays } = recordingClock();
    const key = await enrollWithFallback({ hosts: [HOST, HOST], port, name: 'agent1', timeout: 0, clock });
    expect(key.id).toBe('001');
    expect(delays).toEqual([]);
  });

  it('gives up with the last error after maxRounds', async () => {
    const { authd, port } = await startAuthd();
    authd.setFaults({ rejectAll: 'Closed for enrollment' });
    const { clock, delays } = recordingClock();
    const err = await enrollWithFallback({ hosts: [HOST], port, name: 'agent1', maxRounds: 2, timeout: 0, clock }).catch((e: unknown) => e);
    expect((err as EnrollmentError).managerMessage).toBe('Closed for enrollment');
    expect(authd.stats().rejected).toBe(2);
    expect(delays).toEqual([5_000]);
  });

  it('stops with AbortError when aborted during the back-off', async () => {
    const dead = await closedPort();
    const controller = new AbortController();
    const err = await enrollWithFallback({
      hosts: [{ host: HOST, port: dead }],
      name: 'agent1',
      signal: controller.signal,
      onAttemptFailed: () => void setTimeout(() => controller.abort(), 20),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
  });
});
