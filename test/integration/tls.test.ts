// TLS end to end on a whole gateway: MQTTS with mqtt.js and mosquitto_pub, client certificates that a device's registry entry requires or pins, HTTPS, Secure cookies and trusted proxies; certificates are made with openssl at test time.
import { X509Certificate } from 'node:crypto';
import { waitFor } from '../helpers/wait.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request as httpsRequest } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import mqtt, { type IClientOptions } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { makeTestPki, type CertFiles, type TestPki } from '../helpers/certs.js';
import { tempDir } from '../helpers/tmp.js';
import {
  ChildTracker,
  GatewayProcess,
  gatewayAddresses,
  gatewayEnv,
  MOSQUITTO_PUB,
  registryVariant,
  ToolProcess,
} from '../helpers/e2e-process.js';
import { importRegistry } from '../../gateway/registry/import.js';
import { loadRegistryFile, validateRegistry } from '../../gateway/registry/load.js';
import { silentLogger } from '../../gateway/core/logger.js';

const ADMIN = { username: 'admin', password: 'a long enough pw' };

let dir: ReturnType<typeof tempDir>;
let pki: TestPki;
let registryFile: string;
let t: TestGateway | undefined;

beforeAll(() => {
  dir = tempDir('care-gw-tls-');
  pki = makeTestPki(dir.path, ['btn-001', 'btn-002']);
  // btn-001 needs a certificate from the CA that names it; btn-002 is pinned to one self-signed certificate
  // (written as lower-case hex without colons, as an installer might paste it); fall-001 needs none.
  const pinned = new X509Certificate(readFileSync(pki.stranger.cert)).fingerprint256;
  registryFile = registryVariant(dir.path, 'registry.yaml', [
    [['devices', 0, 'requireClientCert'], true],
    [['devices', 2, 'certFingerprint'], pinned.replace(/:/g, '').toLowerCase()],
  ]);
});
afterAll(() => dir.remove());
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

function tlsEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    REGISTRY_FILE: registryFile,
    MQTTS_PORT: '0',
    MQTT_TLS_CERT_FILE: pki.server.cert,
    MQTT_TLS_KEY_FILE: pki.server.key,
    MQTT_TLS_CA_FILE: pki.ca.cert,
    ...extra,
  };
}

const SECRETS: Record<string, string> = { 'btn-001': 's3cret-btn-001', 'fall-001': 's3cret-fall-001', 'btn-002': 's3cret-btn-002' };

function mqttsOptions(id: string, cert: CertFiles | null, extra: IClientOptions = {}): IClientOptions {
  return {
    clientId: id,
    username: id,
    password: SECRETS[id],
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ca: readFileSync(pki.ca.cert),
    ...(cert ? { cert: readFileSync(cert.cert), key: readFileSync(cert.key) } : {}),
    ...extra,
  };
}

/** The CONNACK return code a refused connection got; 0 when it was let in. */
async function connackCode(url: string, opts: IClientOptions): Promise<number | undefined> {
  try {
    const c = await mqtt.connectAsync(url, opts);
    await c.endAsync();
    return 0;
  } catch (err) {
    return err instanceof Error && 'code' in err && typeof err.code === 'number' ? err.code : undefined;
  }
}

function mqttsUrl(gw: TestGateway): string {
  if (!gw.mqttsUrl) throw new Error('MQTTS is not listening');
  return gw.mqttsUrl;
}

interface HttpsAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request over node's https client, trusting only the test CA. */
function https(url: string, opts: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? null : JSON.stringify(opts.body);
    const req = httpsRequest(
      url,
      {
        method: opts.method ?? 'GET',
        ca: readFileSync(pki.ca.cert),
        headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...opts.headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

describe('MQTT over TLS', () => {
  it('takes an alarm over mqtts:// from mqtt.js (server certificate checked against the CA), PUBACK after it is recorded', async () => {
    t = await startTestGateway({ env: tlsEnv() });
    const button = await mqtt.connectAsync(mqttsUrl(t), mqttsOptions('btn-001', pki.clients['btn-001'] ?? null));
    await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
    const gw = t;
    const active = await waitFor('the incident', async () => {
      const list = await gw.gateway.store.incidents.listActive();
      return list.length > 0 ? list : null;
    });
    expect(active.map((i) => [i.residentId, i.type])).toEqual([['r-001', 'sos']]);
    await button.endAsync();
    // A device with no certificate requirement uses MQTTS without one, and plain MQTT still works beside it.
    expect(await connackCode(mqttsUrl(t), mqttsOptions('fall-001', null))).toBe(0);
    expect(await connackCode(t.mqttUrl, { ...mqttsOptions('fall-001', null), ca: undefined })).toBe(0);
  });

  it('refuses a client that does not trust the gateway certificate (no CA given) at the handshake', async () => {
    t = await startTestGateway({ env: tlsEnv() });
    const failure = await mqtt.connectAsync(mqttsUrl(t), { ...mqttsOptions('fall-001', null), ca: undefined }).then(
      (c) => c.endAsync().then(() => 'connected'),
      (err: unknown) => (err instanceof Error ? err.message : String(err)),
    );
    expect(failure).toMatch(/self[- ]signed|unable to (get|verify)/i);
  });

  it('refuses a device whose certificate is required when it comes without one, over MQTTS or plain MQTT, and records why', async () => {
    t = await startTestGateway({ env: tlsEnv() });
    expect(await connackCode(mqttsUrl(t), mqttsOptions('btn-001', null))).toBe(5);
    expect(await connackCode(t.mqttUrl, { ...mqttsOptions('btn-001', null), ca: undefined })).toBe(5);
    const events = await t.gateway.store.security.list(10);
    expect(events.map((e) => [e.kind, e.deviceId, e.detail])).toEqual([
      ['client_cert_refused', 'btn-001', 'a client certificate is required (MQTTS with the device certificate)'],
      ['client_cert_refused', 'btn-001', 'a client certificate is required (MQTTS with the device certificate)'],
    ]);
    expect(t.gateway.broker.connectedCount()).toBe(0);
  });

  it('refuses a self-signed certificate that names the device, another device certificate, and the right certificate with a wrong secret', async () => {
    t = await startTestGateway({ env: tlsEnv() });
    const url = mqttsUrl(t);
    expect(await connackCode(url, mqttsOptions('btn-001', pki.stranger))).toBe(5);
    expect(await connackCode(url, mqttsOptions('btn-001', pki.clients['btn-002'] ?? null))).toBe(5);
    // The certificate is in addition to the secret, never instead of it.
    expect(await connackCode(url, mqttsOptions('btn-001', pki.clients['btn-001'] ?? null, { password: 'wrong secret' }))).toBe(4);
    const kinds = (await t.gateway.store.security.list(10)).map((e) => e.kind).sort();
    expect(kinds).toEqual(['auth_failed', 'client_cert_refused', 'client_cert_refused']);
    expect(await connackCode(url, mqttsOptions('btn-001', pki.clients['btn-001'] ?? null))).toBe(0);
  });

  it('lets a device pinned to one certificate in with exactly that one, even self-signed, and refuses a CA-signed other', async () => {
    t = await startTestGateway({ env: tlsEnv() });
    const url = mqttsUrl(t);
    expect(await connackCode(url, mqttsOptions('btn-002', pki.clients['btn-002'] ?? null))).toBe(5);
    expect(await connackCode(url, mqttsOptions('btn-002', null))).toBe(5);
    expect(await connackCode(url, mqttsOptions('btn-002', pki.stranger))).toBe(0);
    const details = (await t.gateway.store.security.list(10)).map((e) => e.detail);
    expect(details).toContain('a client certificate is required (MQTTS with the device certificate)');
    expect(details.some((d) => d.includes('is not the one registered for the device'))).toBe(true);
  });

  it('disconnects a connected device when a registry import starts requiring a certificate its session lacks', async () => {
    t = await startTestGateway({ env: tlsEnv() });
    const gw = t;
    const plain = await mqtt.connectAsync(t.mqttUrl, { ...mqttsOptions('fall-001', null), ca: undefined });
    const withCert = await mqtt.connectAsync(mqttsUrl(t), mqttsOptions('btn-001', pki.clients['btn-001'] ?? null));
    // The same registry, now with fall-001 required to present a certificate too.
    const changed = registryVariant(dir.path, 'registry-fall-cert.yaml', [
      [['devices', 0, 'requireClientCert'], true],
      [['devices', 1, 'requireClientCert'], true],
      [['devices', 2, 'certFingerprint'], new X509Certificate(readFileSync(pki.stranger.cert)).fingerprint256],
    ]);
    await importRegistry({ store: gw.gateway.store, log: silentLogger() }, validateRegistry((await loadRegistryFile(changed)).doc));
    await gw.gateway.registryChanged();
    await waitFor('fall-001 to be disconnected', () => !plain.connected);
    expect(withCert.connected).toBe(true);
    await waitFor('only btn-001 connected', () => gw.gateway.broker.connectedCount() === 1);
    expect(await connackCode(t.mqttUrl, { ...mqttsOptions('fall-001', null), ca: undefined })).toBe(5);
    await withCert.endAsync();
  });

  it('takes a publish from mosquitto_pub --cafile, with and without a client certificate', async () => {
    t = await startTestGateway({ env: tlsEnv() });
    const port = new URL(mqttsUrl(t)).port;
    const common = ['-h', '127.0.0.1', '-p', port, '-V', 'mqttv311', '--cafile', pki.ca.cert, '-q', '1'];
    const login = (id: string) => ['-i', id, '-u', id, '-P', SECRETS[id] ?? ''];
    const fall = await new ToolProcess(MOSQUITTO_PUB, [
      ...common,
      ...login('fall-001'),
      '-t',
      'care/v1/fall-001/event',
      '-m',
      JSON.stringify({ type: 'heartbeat', seq: 1, battery: 80 }),
    ])
      .spawn()
      .done();
    expect(fall.stderr).toBe('');
    expect(fall.code).toBe(0);
    const client = pki.clients['btn-001'];
    if (!client) throw new Error('no btn-001 client certificate');
    const sos = await new ToolProcess(MOSQUITTO_PUB, [
      ...common,
      '--cert',
      client.cert,
      '--key',
      client.key,
      ...login('btn-001'),
      '-t',
      'care/v1/btn-001/event',
      '-m',
      JSON.stringify({ type: 'sos', seq: 7 }),
    ])
      .spawn()
      .done();
    expect(sos.code).toBe(0);
    const active = await waitFor('the incident from mosquitto_pub', async () => {
      const list = await t?.gateway.store.incidents.listActive();
      return list && list.length > 0 ? list : null;
    });
    expect(active.map((i) => i.residentId)).toEqual(['r-001']);
    expect(t.gateway.ingest.healthOf('fall-001')?.battery).toBe(80);
    // Without its certificate the same button is refused: mosquitto_pub reports "not authorised" and fails.
    const refused = await new ToolProcess(MOSQUITTO_PUB, [
      ...common,
      ...login('btn-001'),
      '-t',
      'care/v1/btn-001/event',
      '-m',
      JSON.stringify({ type: 'sos', seq: 8 }),
    ])
      .spawn()
      .done();
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/not authori[sz]ed/i);
  });
});

describe('MQTT over TLS without a CA of our own', () => {
  it('never lets a certificate that only a trusted root vouches for stand in for a required device certificate', async ({
    onTestFinished,
  }) => {
    // NODE_EXTRA_CA_CERTS adds the test CA to the roots Node trusts by default, as a public CA would be: the button's
    // CA-signed certificate then verifies, but with no MQTT_TLS_CA_FILE nobody chose that CA for devices.
    const children = new ChildTracker();
    onTestFinished(() => children.killAll());
    const addresses = await gatewayAddresses();
    const mqttsPort = await freePort();
    const env = {
      ...gatewayEnv({ dataDir: join(dir.path, 'no-ca'), addresses, twilioApiUrl: 'http://127.0.0.1:9', registryFile }),
      MQTTS_PORT: String(mqttsPort),
      MQTT_TLS_CERT_FILE: pki.server.cert,
      MQTT_TLS_KEY_FILE: pki.server.key,
      NODE_EXTRA_CA_CERTS: pki.ca.cert,
    };
    const gateway = children.add(new GatewayProcess(env).spawn());
    await gateway.waitForBanner();
    expect(gateway.stdout).toContain(`MQTTS      mqtts://127.0.0.1:${mqttsPort}\n`);
    const url = `mqtts://127.0.0.1:${mqttsPort}`;
    expect(await connackCode(url, mqttsOptions('btn-001', pki.clients['btn-001'] ?? null))).toBe(5);
    // A pinned certificate needs no CA.
    expect(await connackCode(url, mqttsOptions('btn-002', pki.stranger))).toBe(0);
  }, 40_000);
});

describe('HTTPS', () => {
  it('serves /healthz over HTTPS with the configured certificate, and sets a Secure session cookie', async () => {
    t = await startTestGateway({
      env: tlsEnv({
        HTTP_TLS_CERT_FILE: pki.server.cert,
        HTTP_TLS_KEY_FILE: pki.server.key,
        ADMIN_USERNAME: ADMIN.username,
        ADMIN_PASSWORD: ADMIN.password,
      }),
    });
    expect(t.httpUrl.startsWith('https://')).toBe(true);
    expect(t.publicUrl.startsWith('https://')).toBe(true);
    const health = await https(`${t.httpUrl}/healthz`);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ components: { broker: { status: 'up' }, database: { status: 'up' } } });

    const login = await https(`${t.httpUrl}/auth/login`, { method: 'POST', body: ADMIN });
    expect(login.status).toBe(200);
    expect(String(login.headers['set-cookie'])).toMatch(
      /^cg_session=[A-Za-z0-9_-]{43}; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Strict; Secure$/,
    );
    // Plain HTTP on the HTTPS port gets no answer from the app.
    const plain = await fetch(`${t.httpUrl.replace('https:', 'http:')}/healthz`).then(
      (r) => r.status,
      () => 'refused',
    );
    expect(plain).not.toBe(200);
  });

  it('behind a reverse proxy: Secure cookies from an https PUBLIC_URL, X-Forwarded-For believed only from TRUST_PROXY', async () => {
    const env = { PUBLIC_URL: 'https://care.example.org', ADMIN_USERNAME: ADMIN.username, ADMIN_PASSWORD: ADMIN.password };
    const signInFrom = async (gw: TestGateway): Promise<{ cookie: string; ip: string | null }> => {
      const res = await fetch(`${gw.httpUrl}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https' },
        body: JSON.stringify(ADMIN),
      });
      expect(res.status).toBe(200);
      const audit = await gw.gateway.store.accounts.listAudit(1);
      return { cookie: res.headers.get('set-cookie') ?? '', ip: audit[0]?.ip ?? null };
    };
    t = await startTestGateway({ env: { ...env, TRUST_PROXY: '127.0.0.1' } });
    const proxied = await signInFrom(t);
    expect(proxied.cookie).toMatch(/; Secure$/);
    expect(proxied.ip).toBe('203.0.113.7');
    await t.stop();
    // Without TRUST_PROXY a client cannot pick the address its sign-in failures are counted under.
    t = await startTestGateway({ env });
    const direct = await signInFrom(t);
    expect(direct.cookie).toMatch(/; Secure$/);
    expect(direct.ip).toBe('127.0.0.1');
  });
});
