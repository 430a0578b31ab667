// Fault test on `npm start`: a client that sends headers and half a body, then nothing, neither blocks /healthz and webhooks nor holds SIGTERM past the shutdown grace period.
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { TwilioSimServer } from '../../simulators/sms/twilio-server.js';
import { ChildTracker, E2E_AUTH_TOKEN, E2E_SID, GatewayProcess, gatewayAddresses, gatewayEnv, httpGet } from '../helpers/e2e-process.js';
import { tempDir } from '../helpers/tmp.js';

/** Opens a POST that announces 1,000 bytes of form body and sends eleven; resolves once the headers are written. */
function stalledUpload(port: number): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => void (data += chunk));
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', () => undefined);
      socket.write(
        'POST /webhooks/twilio/status HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nMessageSid=',
        () => resolve({ socket, received: () => data, closed }),
      );
    });
  });
}

describe('npm start with a stalled HTTP client', () => {
  it('answers /healthz and a signed webhook during the stall, and exits cleanly on SIGTERM within the grace period', async ({
    onTestFinished,
  }) => {
    const children = new ChildTracker();
    const sim = new TwilioSimServer({ accountSid: E2E_SID, authToken: E2E_AUTH_TOKEN, callbackDelayMs: 5 });
    const dir = tempDir('care-gw-e2e-stall-');
    const sockets: Socket[] = [];
    onTestFinished(async () => {
      for (const s of sockets) s.destroy();
      await children.killAll();
      await sim.stop();
      dir.remove();
    });
    await sim.start();
    const addresses = await gatewayAddresses();
    // A long request timeout, so that only the shutdown grace period can end the stall here.
    const env = {
      ...gatewayEnv({ dataDir: dir.path, addresses, twilioApiUrl: sim.url }),
      HTTP_REQUEST_TIMEOUT_SECONDS: '600',
      SHUTDOWN_GRACE_SECONDS: '2',
    };
    const gateway = children.add(new GatewayProcess(env).spawn());
    await gateway.waitForBanner(60_000);

    const stall = await stalledUpload(addresses.httpPort);
    sockets.push(stall.socket);

    const health = await httpGet<{ components: Record<string, unknown> }>(addresses.publicUrl, '/healthz', null);
    expect(health.status).toBe(200);
    const webhook = await sim.reply('+8613900000001', '1', { webhookUrl: `${addresses.publicUrl}/webhooks/twilio/sms` });
    expect(webhook.status).toBe(200);
    expect(stall.received()).toBe('');

    gateway.signalGroup('SIGTERM');
    // The bound only detects a hang: without the grace period the stall would hold the stop for its whole request timeout.
    const exit = await gateway.waitForExit(20_000);
    // npm re-raises the signal it forwarded once its script has exited; the gateway's own stop is read from its log.
    expect(exit.code === 0 || exit.signal === 'SIGTERM').toBe(true);
    await stall.closed;
    expect(stall.received()).toBe('');
    const output = gateway.stdout + gateway.stderr;
    expect(output).toContain('HTTP connections still open after the shutdown grace period were closed');
    expect(output).not.toContain('stop failed');
  }, 120_000);
});
