// The broker turns Nagle's algorithm off on every device socket it accepts, so a device resending its backlog gets each PUBACK at once.
import { Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connectDevice, startTestGateway, type TestGateway } from '../helpers/gateway.js';

describe('device sockets', () => {
  let t: TestGateway | null = null;
  afterEach(async () => {
    vi.restoreAllMocks();
    await t?.stop();
    t = null;
  });

  it('are set to TCP_NODELAY when the broker accepts them', async () => {
    // Calls through to Node's own setNoDelay, noting each call and the socket it was made on.
    const spy = vi.spyOn(Socket.prototype, 'setNoDelay');
    t = await startTestGateway();
    const button = await connectDevice(t.mqttUrl, 'btn-001', 's3cret-btn-001');
    try {
      const stream = button.stream;
      const localPort = stream instanceof Socket ? stream.localPort : undefined;
      expect(localPort).toBeDefined();
      // The broker's end of this connection is the socket whose remote port is the device's local port.
      const call = spy.mock.contexts.findIndex((socket) => socket instanceof Socket && socket.remotePort === localPort);
      expect(call).toBeGreaterThanOrEqual(0);
      expect(spy.mock.calls[call]).toEqual([true]);
    } finally {
      await button.endAsync();
    }
  });
});
