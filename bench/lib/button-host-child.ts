// The button-host process: holds the timed devices' connections, as real buttons live outside the gateway, and publishes when asked.
import type { MqttClient } from 'mqtt';
import { performance } from 'node:perf_hooks';
import { closeAll, connectMany } from './clients.js';
import { type ButtonReply, type ButtonRequest } from './button-protocol.js';
import { toMonotonic } from './monotonic.js';
import { isNumberedMessage } from './child-rpc.js';

let clients: MqttClient[] = [];

function reply(msg: ButtonReply): void {
  process.send?.(msg);
}

async function handle(req: ButtonRequest): Promise<void> {
  switch (req.type) {
    case 'connect': {
      const started = performance.now();
      clients = await connectMany(req.url, req.devices, req.concurrency);
      // Real buttons listen for `alarm_received` and the like, so the gateway's command path is exercised too.
      if (req.subscribeCommands)
        await Promise.all(clients.map((c, i) => c.subscribeAsync(`care/v1/${req.devices[i]?.id ?? ''}/command`, { qos: 1 })));
      reply({ id: req.id, type: 'connected', count: clients.length, ms: Math.round(performance.now() - started) });
      return;
    }
    case 'press': {
      const client = clients[req.index];
      if (!client) throw new Error(`no button ${req.index}`);
      const publishedAt = performance.now();
      await client.publishAsync(req.topic, req.payload, { qos: 1 });
      const ackedAt = performance.now();
      reply({ id: req.id, type: 'pressed', publishedAt: toMonotonic(publishedAt), ackedAt: toMonotonic(ackedAt) });
      return;
    }
    case 'close':
      await closeAll(clients);
      clients = [];
      reply({ id: req.id, type: 'ok' });
      return;
  }
}

process.on('message', (raw: unknown) => {
  if (!isNumberedMessage<ButtonRequest>(raw)) return;
  handle(raw).catch((err: unknown) => reply({ id: raw.id, type: 'error', message: err instanceof Error ? err.message : String(err) }));
});
