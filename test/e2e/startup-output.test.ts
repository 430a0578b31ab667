// What a person sees after `npm start` in a terminal: readable log lines, then the banner, with links on the port they chose.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChildTracker, FIXTURE_REGISTRY, GatewayProcess, freePort } from '../helpers/e2e-process.js';

// `npm start` under util-linux's `script`, so the gateway's stdout is a terminal, as for a person who typed it.
import { tempDir } from '../helpers/tmp.js';

// The terminal's colour codes and carriage returns, which the assertions do not care about.
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*[A-Za-z]`, 'g');
const plain = (s: string) => s.replace(ANSI, '').replace(/\r/g, '');

describe('npm start in a terminal, with HTTP_PORT and no PUBLIC_URL', () => {
  const children = new ChildTracker();
  const dir = tempDir('care-gw-tty-');
  let httpPort: number;
  let gateway: GatewayProcess;

  beforeAll(async () => {
    httpPort = await freePort();
    const env = {
      DATA_DIR: dir.path,
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: String(await freePort()),
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(httpPort),
      REGISTRY_FILE: FIXTURE_REGISTRY,
      TZ: 'Asia/Shanghai',
      LOG_LEVEL: 'info',
    };
    gateway = children.add(new GatewayProcess(env, ['script', '-qefc', 'npm start', '/dev/null']).spawn());
    await gateway.waitForBanner(60_000);
  });

  afterAll(async () => {
    await children.killAll();
    dir.remove();
  });

  it('prints the one-time admin link on the chosen port', () => {
    const out = plain(gateway.stdout);
    expect(out).toContain(`http://localhost:${httpPort}/#/setup?token=`);
    expect(out).not.toContain('localhost:8080');
  });

  it('logs readable lines, not JSON, and sets the banner apart below them', () => {
    const lines = plain(gateway.stdout).split('\n');
    const logLines = lines.filter((l) => /^\[\d\d:\d\d:\d\d\] (INFO|WARN|ERROR)/.test(l));
    expect(logLines.length).toBeGreaterThan(0);
    expect(lines.some((l) => l.startsWith('{"level"'))).toBe(false);
    const bannerAt = lines.findIndex((l) => l.includes('care gateway is running'));
    expect(lines[bannerAt - 1]).toMatch(/^={40,}$/);
    // The start-up lines (the registry import, the outbox warning) all come before the banner.
    expect(lines.findIndex((l) => l.includes('registry imported'))).toBeLessThan(bannerAt);
  });
});
