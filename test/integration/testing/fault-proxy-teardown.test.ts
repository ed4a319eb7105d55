/**
 * FaultProxy's teardown under the condition that made the chaos soak leave a socket behind: an
 * upstream connect that does not complete (the target's accept queue is full, so the kernel drops
 * the SYN and retries it 1 s, 3 s, ... later) when the proxy resets the connection and closes.
 */
import { once } from 'node:events';
import * as net from 'node:net';
import { expect, it } from 'vitest';
import { FaultProxy } from '../../../src/testing/index.js';
import { cleanup, stalledListener, until, useHandleCheck } from '../transport/helpers.js';

useHandleCheck();

/** Sockets of this process still connecting. */
function connecting(): number {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  return handles.filter((h) => h instanceof net.Socket && h.connecting).length;
}

it('reset() while the upstream connect hangs, then close(): close resolves with no proxy socket left', async () => {
  const { port } = await stalledListener();
  const proxy = new FaultProxy({ target: { port } });
  cleanup(() => proxy.close());
  await proxy.start();
  const client = net.connect(proxy.port, '127.0.0.1');
  client.on('error', () => undefined);
  cleanup(() => client.destroy());
  await once(client, 'connect');
  await until(() => proxy.connections === 1);
  const before = connecting(); // the stalled listener's last filler, and the proxy's upstream
  expect(proxy.reset()).toBe(1);
  await proxy.close();
  // The upstream is gone when close() resolves: a reset of a socket still connecting no longer waits
  // for its connect, and close() waits for every socket the proxy made.
  expect(connecting()).toBe(before - 1);
});
