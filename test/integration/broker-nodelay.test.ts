// The broker's sockets: Nagle's algorithm off on every device socket, so a device resending its backlog gets each PUBACK at once; a listen queue deep enough for a failover's reconnects.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MQTT_LISTEN_BACKLOG } from '../../gateway/broker/broker.js';
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

  it("listens with a queue for thousands of connections, not Node's default 511", async () => {
    t = await startTestGateway();
    const port = new URL(t.mqttUrl).port;
    // For a listening socket `ss` shows its backlog as Send-Q; the kernel caps it at net.core.somaxconn.
    const line = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' }).trim();
    const backlog = Number(line.split(/\s+/)[2]);
    const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
    expect(backlog).toBe(Math.min(MQTT_LISTEN_BACKLOG, somaxconn));
    expect(backlog).toBeGreaterThan(511);
  });
});
