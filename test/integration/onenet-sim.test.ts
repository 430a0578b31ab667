// The OneNET simulator's scenario against a real gateway: URL check, the pendant online, a heartbeat, an SOS that pages, a forged push refused.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OnenetPusher, runOnenetScenario } from '../../simulators/onenet/pusher.js';
import { onenetMain } from '../../simulators/onenet/cli.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { addTestBridges, HTTP_BRIDGE } from '../helpers/bridges.js';

describe('OneNET pusher (npm run sim -- onenet)', () => {
  let t: TestGateway;

  beforeEach(async () => {
    t = await startTestGateway();
    await addTestBridges(t.gateway);
  });

  afterEach(async () => {
    await t.stop();
  });

  it('runs the CI scenario: every push taken, the forged one refused, the SOS paged', async () => {
    const pusher = new OnenetPusher({ url: `${t.httpUrl}/ingest/v1/${HTTP_BRIDGE.id}`, token: HTTP_BRIDGE.secret });
    expect(await runOnenetScenario(pusher, 'onenet-dev-42')).toEqual({
      urlCheck: true,
      online: 200,
      heartbeat: 200,
      sos: 200,
      forged: 403,
    });
    expect(t.gateway.ingest.healthOf('nb-btn-102')).toMatchObject({ state: 'online', battery: 87, rssi: -69 });
    await t.gateway.processor.idle();
    const [incident] = await t.gateway.store.incidents.list({ residentId: 'r-002' });
    expect(incident).toMatchObject({ type: 'sos', state: 'open' });
  });

  it('exits non-zero from the CLI when the token is wrong', async () => {
    const args = ['--url', t.httpUrl, '--bridge', HTTP_BRIDGE.id, '--dev', 'onenet-dev-42', '--scenario'];
    expect(await onenetMain([...args, '--token', HTTP_BRIDGE.secret])).toBe(0);
    expect(await onenetMain([...args, '--token', 'wrong-token'])).toBe(1);
  });
});
