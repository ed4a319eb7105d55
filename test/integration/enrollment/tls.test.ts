import { connect as tlsConnect } from 'node:tls';
import type { ConnectionOptions } from 'node:tls';
import { describe, expect, it, onTestFinished } from 'vitest';
import { enroll, EnrollmentError } from '../../../src/index.js';
import { TEST_CA_CERT, TEST_CLIENT_CERT, TEST_CLIENT_KEY } from '../../../src/testing/index.js';
import { UNTRUSTED_CA_CERT, UNTRUSTED_CLIENT_CERT, UNTRUSTED_CLIENT_KEY, UNTRUSTED_SERVER_CERT, UNTRUSTED_SERVER_KEY } from '../../fixtures/certs/untrusted.js';
import { HOST, startAuthd } from './helpers.js';

/** Completes a raw TLS handshake, or returns the error code it failed with. */
function handshake(options: ConnectionOptions): Promise<{ ok: true; protocol: string | null } | { ok: false; code: string }> {
  return new Promise((resolve) => {
    const socket = tlsConnect(options);
    onTestFinished(() => void socket.destroy());
    socket.once('secureConnect', () => {
      resolve({ ok: true, protocol: socket.getProtocol() });
      socket.destroy();
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, code: err.code ?? err.message }));
  });
}

describe('enrollment TLS', () => {
  it('verifies the manager certificate against the given CA, by IP and by name', async () => {
    const { port } = await startAuthd();
    expect((await enroll({ host: HOST, port, name: 'agent1', ca: TEST_CA_CERT })).id).toBe('001');
    expect((await enroll({ host: HOST, port, name: 'agent2', ca: TEST_CA_CERT, servername: 'localhost' })).id).toBe('002');
  });

  it('fails with ERR_ENROLLMENT_CONNECTION when the certificate is signed by another CA', async () => {
    const { authd, port } = await startAuthd();
    const err = await enroll({ host: HOST, port, name: 'agent1', ca: UNTRUSTED_CA_CERT }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnrollmentError);
    expect((err as EnrollmentError).code).toBe('ERR_ENROLLMENT_CONNECTION');
    expect(authd.stats().enrolled).toBe(0);
  });

  it('fails with ERR_ENROLLMENT_CONNECTION when the certificate does not match the server name', async () => {
    const { port } = await startAuthd();
    const err = await enroll({ host: HOST, port, name: 'agent1', ca: TEST_CA_CERT, servername: 'manager.example' }).catch((e: unknown) => e);
    expect((err as EnrollmentError).code).toBe('ERR_ENROLLMENT_CONNECTION');
    expect((err as EnrollmentError).message).toMatch(/manager\.example|altname/i);
  });

  it('does not verify the manager certificate when no CA is given, as Wazuh does', async () => {
    const { port } = await startAuthd({ cert: UNTRUSTED_SERVER_CERT, key: UNTRUSTED_SERVER_KEY });
    expect((await enroll({ host: HOST, port, name: 'agent1' })).id).toBe('001');
  });

  describe('client certificates (ssl_agent_ca)', () => {
    it('enrolls an agent presenting a certificate signed by the CA', async () => {
      const { port } = await startAuthd({ ca: TEST_CA_CERT });
      const key = await enroll({ host: HOST, port, name: 'agent1', ca: TEST_CA_CERT, cert: TEST_CLIENT_CERT, key: TEST_CLIENT_KEY });
      expect(key.id).toBe('001');
    });

    it('refuses an agent without a certificate', async () => {
      const { authd, port } = await startAuthd({ ca: TEST_CA_CERT });
      const err = await enroll({ host: HOST, port, name: 'agent1', ca: TEST_CA_CERT }).catch((e: unknown) => e);
      expect((err as EnrollmentError).code).toBe('ERR_ENROLLMENT_CONNECTION');
      expect(authd.stats()).toMatchObject({ enrolled: 0, tlsErrors: 1 });
    });

    it('refuses an agent whose certificate another CA signed', async () => {
      const { authd, port } = await startAuthd({ ca: TEST_CA_CERT });
      const err = await enroll({ host: HOST, port, name: 'agent1', cert: UNTRUSTED_CLIENT_CERT, key: UNTRUSTED_CLIENT_KEY }).catch(
        (e: unknown) => e,
      );
      expect((err as EnrollmentError).code).toBe('ERR_ENROLLMENT_CONNECTION');
      expect(authd.stats().enrolled).toBe(0);
    });
  });

  it('refuses a TLS 1.1 client, and accepts the same client at TLS 1.2', async () => {
    const { authd, port } = await startAuthd();
    // SECLEVEL=0 lets this client offer TLS 1.1 at all, so the refusal is the server's.
    const old = await handshake({ host: HOST, port, rejectUnauthorized: false, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
    expect(old.ok).toBe(false);
    expect(old.ok ? '' : old.code).toMatch(/PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|WRONG_VERSION/);
    const modern = await handshake({ host: HOST, port, rejectUnauthorized: false, minVersion: 'TLSv1', maxVersion: 'TLSv1.2', ciphers: 'DEFAULT@SECLEVEL=0' });
    expect(modern).toEqual({ ok: true, protocol: 'TLSv1.2' });
    expect(authd.stats().tlsErrors).toBe(1);
  });
});
