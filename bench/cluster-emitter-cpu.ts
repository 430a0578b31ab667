// CPU per device uplink in a cluster: three gateway nodes in this process on one PostgreSQL and one Redis, one device sending QoS 1 telemetry; this process's CPU and Redis' per message, and the Redis PUBLISHes.
// Usage: npx tsx bench/cluster-emitter-cpu.ts [messages, default 20000]
import { readFileSync } from 'node:fs';
import { ManualClock } from '../gateway/core/clock.js';
import { TwilioSimServer } from '../simulators/sms/twilio-server.js';
import { shanghaiLast } from '../test/helpers/calendar.js';
import { connectDevice, SIM_SID, SIM_TOKEN, startPostgresTestGateway, type TestGateway } from '../test/helpers/gateway.js';
import { PostgresFixture } from '../test/helpers/postgres.js';
import { RedisServer } from '../test/helpers/redis.js';
import { DEVICE_LIMITS_OFF } from './lib/limits.js';

const WARMUP = 2000;

/** CPU time (ms) redis-server has used, from /proc (100 Hz ticks). */
function redisCpuMs(dir: string): number {
  const pid = readFileSync(`${dir}/redis.pid`, 'utf8').trim();
  const fields = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 20_000);
  const [postgres, redis] = await Promise.all([PostgresFixture.start(), RedisServer.start()]);
  const sms = new TwilioSimServer({ accountSid: SIM_SID, authToken: SIM_TOKEN });
  await sms.start({ port: 0 });
  const nodes: TestGateway<Awaited<ReturnType<typeof startPostgresTestGateway>>['gateway']>[] = [];
  const r = redis.client();
  try {
    const url = await postgres.freshUrl();
    const clock = new ManualClock(shanghaiLast(4, 10));
    for (const id of ['node-a', 'node-b', 'node-c']) {
      const env = { REDIS_URL: redis.url, GATEWAY_NODE_ID: id, CLUSTER_HEARTBEAT_MS: '1000', ...DEVICE_LIMITS_OFF };
      nodes.push(await startPostgresTestGateway(url, { clock, sms, env }));
    }
    const first = nodes[0];
    if (!first) throw new Error('no node started');
    const device = await connectDevice(first.mqttUrl, 'btn-001', 's3cret-btn-001');
    const publishes = async (): Promise<number> => Number(/cmdstat_publish:calls=(\d+)/.exec(await r.info('commandstats'))?.[1] ?? 0);
    const send = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i++)
        await device.publishAsync('care/v1/btn-001/telemetry', JSON.stringify({ battery: 90, rssi: -60 }), { qos: 1 });
    };
    await send(WARMUP);
    const [p0, r0, c0] = [await publishes(), redisCpuMs(redis.dir), process.cpuUsage()];
    await send(n);
    const c1 = process.cpuUsage(c0);
    const [p1, r1] = [await publishes(), redisCpuMs(redis.dir)];
    console.log(
      JSON.stringify({
        messages: n,
        processCpuUsPerMessage: Math.round(((c1.user + c1.system) / n) * 10) / 10,
        redisCpuUsPerMessage: Math.round((((r1 - r0) * 1000) / n) * 10) / 10,
        redisPublish: p1 - p0,
      }),
    );
    await device.endAsync(true);
  } finally {
    await r.quit();
    for (const node of nodes) await node.stop().catch(() => undefined);
    await sms.stop();
    await Promise.all([postgres.stop(), redis.stop()]);
  }
}

await main();
