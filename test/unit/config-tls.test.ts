// TLS configuration: MQTTS and HTTPS turn on with their certificate and key, and every broken setup (missing file, a key that is no key, a key of another certificate) stops start-up with one line naming the variable.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Env } from '../../gateway/config/load.js';
import { GatewayError } from '../../gateway/core/errors.js';
import { makeTestPki, type TestPki } from '../helpers/certs.js';
import { tempDir } from '../helpers/tmp.js';

let dir: ReturnType<typeof tempDir>;
let pki: TestPki;

beforeAll(() => {
  dir = tempDir('care-gw-tls-config-');
  pki = makeTestPki(dir.path);
});
afterAll(() => dir.remove());

/** The one line loadConfig stops with, or null when it accepted the environment. */
function configError(env: Env): string | null {
  try {
    loadConfig(env);
    return null;
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    expect(err.code).toBe('GW_ERR_CONFIG');
    expect(err.message).not.toContain('\n');
    return err.message;
  }
}

describe('TLS configuration', () => {
  it('leaves MQTTS and HTTPS off without certificates', () => {
    const config = loadConfig({});
    expect(config.mqtts).toBeNull();
    expect(config.httpTls).toBeNull();
  });

  it('turns MQTTS on (port 8883 by default) with a certificate and key, and HTTPS with its own pair', () => {
    const config = loadConfig({
      MQTT_TLS_CERT_FILE: pki.server.cert,
      MQTT_TLS_KEY_FILE: pki.server.key,
      MQTT_TLS_CA_FILE: pki.ca.cert,
      HTTP_TLS_CERT_FILE: pki.server.cert,
      HTTP_TLS_KEY_FILE: pki.server.key,
    });
    expect(config.mqtts?.port).toBe(8883);
    expect(config.mqtts?.cert.toString()).toContain('BEGIN CERTIFICATE');
    expect(config.mqtts?.ca?.toString()).toContain('BEGIN CERTIFICATE');
    expect(config.httpTls?.key.toString()).toContain('PRIVATE KEY');
    expect(loadConfig({ MQTT_TLS_CERT_FILE: pki.server.cert, MQTT_TLS_KEY_FILE: pki.server.key, MQTTS_PORT: '18883' }).mqtts?.port).toBe(
      18883,
    );
  });

  it('stops on a missing certificate file, naming the variable and the path', () => {
    const missing = join(dir.path, 'nope.crt');
    expect(configError({ MQTT_TLS_CERT_FILE: missing, MQTT_TLS_KEY_FILE: pki.server.key })).toBe(
      `MQTT_TLS_CERT_FILE: cannot read ${missing} (ENOENT)`,
    );
    expect(configError({ HTTP_TLS_CERT_FILE: pki.server.cert, HTTP_TLS_KEY_FILE: missing })).toBe(
      `HTTP_TLS_KEY_FILE: cannot read ${missing} (ENOENT)`,
    );
    expect(configError({ MQTT_TLS_CERT_FILE: pki.server.cert, MQTT_TLS_KEY_FILE: pki.server.key, MQTT_TLS_CA_FILE: missing })).toBe(
      `MQTT_TLS_CA_FILE: cannot read ${missing} (ENOENT)`,
    );
  });

  it('stops on a key file that cannot be read as a key: a directory, garbage, an encrypted key', () => {
    expect(configError({ MQTT_TLS_CERT_FILE: pki.server.cert, MQTT_TLS_KEY_FILE: dir.path })).toBe(
      `MQTT_TLS_KEY_FILE: cannot read ${dir.path} (EISDIR)`,
    );
    const garbage = join(dir.path, 'garbage.key');
    writeFileSync(garbage, 'this is not a key\n');
    chmodSync(garbage, 0o600);
    expect(configError({ MQTT_TLS_CERT_FILE: pki.server.cert, MQTT_TLS_KEY_FILE: garbage })).toMatch(
      /^MQTT_TLS_KEY_FILE: .*garbage\.key is not an unencrypted PEM private key/,
    );
    // The certificate given as the key is a common slip.
    expect(configError({ HTTP_TLS_CERT_FILE: pki.server.cert, HTTP_TLS_KEY_FILE: pki.server.cert })).toMatch(
      /^HTTP_TLS_KEY_FILE: .* is not an unencrypted PEM private key/,
    );
  });

  it('stops when the key does not belong to the certificate', () => {
    const line = configError({ MQTT_TLS_CERT_FILE: pki.server.cert, MQTT_TLS_KEY_FILE: pki.ca.key });
    expect(line).toBe(
      `MQTT_TLS_KEY_FILE: the key in ${pki.ca.key} does not belong to the certificate in ${pki.server.cert} (MQTT_TLS_CERT_FILE)`,
    );
  });

  it('stops on a certificate file that holds no certificate', () => {
    expect(configError({ MQTT_TLS_CERT_FILE: pki.server.key, MQTT_TLS_KEY_FILE: pki.server.key })).toMatch(
      /^MQTT_TLS_CERT_FILE: .* is not a PEM certificate/,
    );
    expect(configError({ MQTT_TLS_CERT_FILE: pki.server.cert, MQTT_TLS_KEY_FILE: pki.server.key, MQTT_TLS_CA_FILE: pki.ca.key })).toMatch(
      /^MQTT_TLS_CA_FILE: .* is not a PEM certificate/,
    );
  });

  it('stops on half a pair, a CA without MQTTS, and MQTTS on the plain MQTT port', () => {
    expect(configError({ MQTT_TLS_CERT_FILE: pki.server.cert })).toBe(
      'MQTT_TLS_KEY_FILE: MQTT_TLS_CERT_FILE and MQTT_TLS_KEY_FILE go together',
    );
    expect(configError({ HTTP_TLS_KEY_FILE: pki.server.key })).toBe(
      'HTTP_TLS_CERT_FILE: HTTP_TLS_CERT_FILE and HTTP_TLS_KEY_FILE go together',
    );
    expect(configError({ MQTT_TLS_CA_FILE: pki.ca.cert })).toBe(
      'MQTT_TLS_CERT_FILE: required when MQTT_TLS_CA_FILE is set (client certificates need MQTTS)',
    );
    expect(configError({ MQTT_TLS_CERT_FILE: pki.server.cert, MQTT_TLS_KEY_FILE: pki.server.key, MQTTS_PORT: '1883' })).toBe(
      'MQTTS_PORT: must differ from MQTT_PORT (got "1883")',
    );
    expect(configError({ MQTTS_PORT: 'tls' })).toMatch(/^MQTTS_PORT: /);
  });
});
