// Connection caps and edge timeouts: how the open-file limit is split between HTTP and MQTT, and how their variables are validated.
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectionCaps, readSoftFdLimit, RESERVED_DESCRIPTORS } from '../../gateway/config/connection-budget.js';
import { loadConfig } from '../../gateway/config/load.js';
import { tempDir } from '../helpers/tmp.js';

describe('connection budget', () => {
  it('splits a 1024 soft limit so that neither listener can take the descriptors of the other or of the database', () => {
    const caps = connectionCaps({ http: null, mqtt: null }, 1024);
    expect(caps.http + caps.mqtt + RESERVED_DESCRIPTORS).toBeLessThanOrEqual(1024);
    // 1,100 stalled HTTP bodies no longer reach MQTT's share.
    expect(caps.http).toBeLessThan(1100);
    expect(caps.mqtt).toBeGreaterThan(caps.http);
    expect(caps).toMatchObject({ softLimit: 1024, limitKnown: true, overcommitted: false });
  });

  it('takes configured caps as given, flags caps that leave no reserve, and assumes 1024 when the limit is unknown', () => {
    expect(connectionCaps({ http: 100, mqtt: null }, 1024)).toMatchObject({ http: 100, mqtt: 1024 - RESERVED_DESCRIPTORS - 100 });
    expect(connectionCaps({ http: 900, mqtt: 900 }, 1024)).toMatchObject({ http: 900, mqtt: 900, overcommitted: true });
    expect(connectionCaps({ http: null, mqtt: null }, null)).toMatchObject({ softLimit: 1024, limitKnown: false });
    expect(connectionCaps({ http: null, mqtt: null }, 1_048_576).http).toBe(1024);
  });

  it('reads the soft limit from a /proc limits file', () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, 'limits');
      writeFileSync(
        file,
        'Limit                     Soft Limit           Hard Limit           Units\nMax open files            4096                 524288               files\n',
      );
      expect(readSoftFdLimit(file)).toBe(4096);
      expect(readSoftFdLimit(join(dir.path, 'missing'))).toBeNull();
    } finally {
      dir.remove();
    }
  });
});

describe('edge configuration variables', () => {
  const base = { DATA_DIR: '/tmp/care-gw-config-test' };

  it('has defaults: 30 s request timeout, 3 s shutdown grace, 10 min redelivery window, caps from the limit', () => {
    const c = loadConfig(base);
    expect(c.http).toMatchObject({ maxConnections: null, requestTimeoutMs: 30_000 });
    expect(c.mqtt).toMatchObject({ maxConnections: null, redeliveryWindowMs: 600_000 });
    expect(c.shutdownGraceMs).toBe(3000);
  });

  it.each([
    ['HTTP_MAX_CONNECTIONS', '0'],
    ['MQTT_MAX_CONNECTIONS', 'many'],
    ['HTTP_REQUEST_TIMEOUT_SECONDS', '0'],
    ['SHUTDOWN_GRACE_SECONDS', '-1'],
    ['MQTT_REDELIVERY_WINDOW_SECONDS', '1.5'],
  ])('stops start-up with one line naming %s on a bad value', (name, value) => {
    expect(() => loadConfig({ ...base, [name]: value })).toThrow(new RegExp(`^${name}: `));
  });
});
