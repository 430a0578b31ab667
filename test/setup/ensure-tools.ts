// Global test setup: the Debian tools the tests drive must be present; install them with apt-get as root, or stop with one line.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const TOOLS: { bin: string; pkg: string }[] = [
  { bin: '/usr/bin/mosquitto_pub', pkg: 'mosquitto-clients' },
  { bin: '/usr/bin/mosquitto_sub', pkg: 'mosquitto-clients' },
  // The external broker of the ChirpStack bridge tests.
  { bin: '/usr/sbin/mosquitto', pkg: 'mosquitto' },
  { bin: '/usr/bin/influxd', pkg: 'influxdb' },
  { bin: '/usr/bin/chromium', pkg: 'chromium' },
  // The PostgreSQL store's tests start a throwaway cluster of their own (initdb + pg_ctl).
  { bin: '/usr/lib/postgresql/15/bin/initdb', pkg: 'postgresql' },
  { bin: '/usr/lib/postgresql/15/bin/pg_ctl', pkg: 'postgresql' },
  // The TLS tests make their CA and certificates at test time.
  { bin: '/usr/bin/openssl', pkg: 'openssl' },
  // Without a CJK font Chromium draws Chinese as empty boxes: the screenshots and text-size checks need one.
  { bin: '/usr/share/fonts/truetype/wqy/wqy-microhei.ttc', pkg: 'fonts-wqy-microhei' },
];

export default function ensureTools(): void {
  const missing = [...new Set(TOOLS.filter((t) => !existsSync(t.bin)).map((t) => t.pkg))];
  if (missing.length === 0) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = spawnSync('which', ['apt-get']).status === 0;
  if (!isRoot || !hasApt) {
    throw new Error(`missing test tools: run \`sudo apt-get install -y ${missing.join(' ')}\` and try again`);
  }
  console.log(`installing test tools with apt-get: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'inherit', env });
  const still = TOOLS.filter((t) => !existsSync(t.bin)).map((t) => t.pkg);
  if (still.length > 0) throw new Error(`apt-get did not provide: ${[...new Set(still)].join(' ')}; install them and try again`);
}
