// Entry point of `npm start`: validated configuration, the gateway, a start banner, a clean stop on SIGINT/SIGTERM and a logged exit on an unhandled fault.
import { loadConfig, readEnv } from './config/load.js';
import { GatewayError, errorMessage } from './core/errors.js';
import { createLogger } from './core/logger.js';
import { Gateway, type StartedGateway } from './app.js';
import type { GatewayConfig } from './config/schema.js';
import { installProcessGuard } from './fatal.js';

function banner(config: GatewayConfig, started: StartedGateway, setupLink: string | null): string {
  const host = (h: string) => (h === '0.0.0.0' || h === '::' ? 'localhost' : h);
  const http = `${config.httpTls ? 'https' : 'http'}://${host(config.http.host)}:${started.httpPort}`;
  const rule = '='.repeat(78);
  const lines = [
    '',
    rule,
    '  care gateway is running',
    `  MQTT       mqtt://${host(config.mqtt.host)}:${started.mqttPort}`,
    ...(started.mqttsPort !== null
      ? [`  MQTTS      mqtts://${host(config.mqtt.host)}:${started.mqttsPort}${config.mqtts?.ca ? ' (client certificates verified)' : ''}`]
      : []),
    `  API        ${http}/api/incidents ${config.apiToken ? '(Authorization: Bearer $API_TOKEN)' : '(set API_TOKEN to use it from scripts)'}`,
    `  Dashboard  ${http}/`,
    `  Health     ${http}/healthz    Metrics ${http}/metrics`,
    `  Registry   ${started.registry.path} (${started.registry.source}; ${started.registry.counts.residents} residents, ${started.registry.counts.devices} devices, ${started.registry.counts.workers} workers)`,
  ];
  if (!config.twilio) {
    lines.push('', '  !! OUTBOX MODE: no TWILIO_* credentials. SMS are stored in the local outbox and NOT sent. !!');
  }
  if (setupLink) {
    lines.push(
      '',
      '  No dashboard admin yet. Open this one-time link to create one (it works once; a restart issues a new one):',
      `  ${setupLink}`,
    );
  }
  const b = started.registry.demoButton;
  if (b) {
    const payload = JSON.stringify({ type: 'sos', seq: Math.floor(Date.now() / 1000) });
    lines.push(
      '',
      `  Press ${b.residentName}'s demo button (${b.address}):`,
      `  mosquitto_pub -h ${host(config.mqtt.host)} -p ${started.mqttPort} -q 1 -i ${b.deviceId} -u ${b.deviceId} -P '${b.secret}' -t care/v1/${b.deviceId}/event -m '${payload}'`,
    );
  }
  lines.push(rule, '');
  return `${lines.join('\n')}\n`;
}

/**
 * Start-up sends its backlog (visit reminders, SMS a crash left queued) in the background. Waiting, briefly, until
 * that has been handed on keeps their log lines above the banner, so the banner is the last thing a person reads.
 */
async function startupSettled(gateway: Gateway, limitMs = 3000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (gateway.dispatcher.health().queued > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function main(): Promise<void> {
  let config: GatewayConfig;
  try {
    config = loadConfig(readEnv());
  } catch (err) {
    process.stderr.write(`configuration error: ${errorMessage(err)}\n`);
    process.exit(2);
  }
  const pretty = config.logFormat === 'pretty' || (config.logFormat === 'auto' && process.stdout.isTTY === true);
  const gateway = Gateway.create({ config, log: createLogger({ level: config.logLevel, pretty }) });
  // From here on an unhandled fault, even during start-up, is logged and ends the process for its supervisor to restart.
  const guard = installProcessGuard({ events: process, log: gateway.log, stop: () => gateway.stop(), exit: (code) => process.exit(code) });
  let started: StartedGateway;
  try {
    started = await gateway.start();
  } catch (err) {
    const line = err instanceof GatewayError ? `${err.code}: ${err.message}` : errorMessage(err);
    process.stderr.write(`start-up failed: ${line}\n`);
    await gateway.stop().catch(() => undefined);
    process.exit(1);
  }
  await startupSettled(gateway);
  process.stdout.write(banner(config, started, gateway.accounts.setupLink()));
  process.on('SIGINT', () => guard.shutdown('SIGINT'));
  process.on('SIGTERM', () => guard.shutdown('SIGTERM'));
}

await main();
