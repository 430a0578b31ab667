// docker-compose.cluster.yml parsed and checked (no Docker engine here): three distinct nodes on PostgreSQL and Redis behind the shipped HAProxy config.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configSchema } from '../../gateway/config/schema.js';
import { ProxyTrust } from '../../gateway/broker/proxy-protocol.js';
import { HAPROXY_BINARY } from '../helpers/haproxy.js';

interface Service {
  image?: string;
  build?: string;
  ports?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
  healthcheck?: { test: string[] };
  networks?: Record<string, { ipv4_address?: string }> | string[];
  secrets?: string[];
}
interface Compose {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
  secrets?: Record<string, { file?: string }>;
}

const root = new URL('../../', import.meta.url);
const compose = parse(readFileSync(new URL('docker-compose.cluster.yml', root), 'utf8'), { merge: true }) as Compose;
const nodes = Object.entries(compose.services).filter(([name]) => name.startsWith('gateway-'));

/** The host side of a bind mount (`./deploy/…:/…`) resolved against the repository. */
function hostPath(volume: string): URL {
  return new URL(volume.split(':')[0]!, root);
}

describe('docker-compose.cluster.yml', () => {
  it('runs three gateway nodes with distinct ids, each with its own data volume', () => {
    expect(nodes.map(([name]) => name)).toEqual(['gateway-1', 'gateway-2', 'gateway-3']);
    const ids = nodes.map(([, s]) => s.environment?.GATEWAY_NODE_ID);
    expect(new Set(ids).size).toBe(3);
    expect(ids.every((id) => typeof id === 'string' && id !== '')).toBe(true);
    const dataVolumes = nodes.map(([, s]) => s.volumes?.find((v) => v.endsWith(':/data'))?.split(':')[0]);
    expect(new Set(dataVolumes).size).toBe(3);
    for (const v of dataVolumes) expect(compose.volumes).toHaveProperty(v!);
  });

  it('gives every node both URLs, waits for healthy PostgreSQL and Redis, and sets only variables the gateway knows', () => {
    const known = new Set([...Object.keys(configSchema.shape), 'TZ']);
    for (const [name, s] of nodes) {
      const env = s.environment ?? {};
      expect(env.DATABASE_URL, name).toMatch(/^postgres:\/\/[^@]+@postgres:5432\//);
      expect(env.REDIS_URL, name).toBe('redis://redis:6379');
      for (const key of Object.keys(env)) expect(known, `${name}: ${key}`).toContain(key);
      expect(s.depends_on).toMatchObject({ postgres: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } });
      // No node is reachable past the balancer: otherwise a device could skip HAProxy (and nothing else would change).
      expect(s.ports ?? []).toEqual([]);
    }
    expect(compose.services.postgres?.image).toMatch(/^postgres:15/);
    expect(compose.services.postgres?.healthcheck?.test.join(' ')).toContain('pg_isready');
    expect(compose.services.postgres?.volumes).toContain('postgres-data:/var/lib/postgresql/data');
    expect(compose.services.redis?.image).toMatch(/^redis:7/);
    expect(compose.services.redis?.healthcheck?.test).toContain('ping');
  });

  it('trusts exactly HAProxy’s fixed address for PROXY headers and X-Forwarded-For', () => {
    const networks = compose.services.haproxy?.networks;
    const address = networks && !Array.isArray(networks) ? networks.cluster?.ipv4_address : undefined;
    expect(address).toBeDefined();
    for (const [name, s] of nodes) {
      const env = s.environment ?? {};
      expect(env.MQTT_PROXY_PROTOCOL, name).toBe('on');
      expect(new ProxyTrust((env.MQTT_PROXY_FROM ?? '').split(',')).trusts(address!), name).toBe(true);
      expect(env.TRUST_PROXY, name).toBe(env.MQTT_PROXY_FROM);
      // The same values pass the gateway's own validation.
      const proxy = { MQTT_PROXY_PROTOCOL: env.MQTT_PROXY_PROTOCOL, MQTT_PROXY_FROM: env.MQTT_PROXY_FROM, TRUST_PROXY: env.TRUST_PROXY };
      expect(configSchema.safeParse(proxy).error?.issues ?? []).toEqual([]);
    }
  });

  it('gives every node the one link secret (a node with another is refused at start), as a Docker secret', () => {
    expect(compose.secrets?.['link-secret']?.file).toBe('./secrets/link-secret');
    for (const [name, s] of nodes) {
      expect(s.secrets, name).toEqual(['link-secret']);
      expect(s.environment?.LINK_SECRET_FILE, name).toBe('/run/secrets/link-secret');
    }
  });

  it('publishes only HAProxy, on the contract ports, and mounts the shipped HAProxy config that names the three nodes with send-proxy-v2', () => {
    const lb = compose.services.haproxy!;
    expect(lb.ports).toEqual(['1883:1883', '8080:8080']);
    const mount = lb.volumes?.find((v) => v.includes('/usr/local/etc/haproxy/haproxy.cfg'));
    expect(mount).toBeDefined();
    const cfgUrl = hostPath(mount!);
    expect(existsSync(cfgUrl)).toBe(true);
    const cfg = readFileSync(cfgUrl, 'utf8');
    const section = (name: string): string => cfg.split(/\n(?=\S)/).find((s) => s.startsWith(`backend ${name}`)) ?? '';
    const mqtt = section('gateway_mqtt');
    expect(mqtt).toMatch(/^\s+mode tcp$/m);
    expect(mqtt).toMatch(/^\s+balance leastconn$/m);
    expect(mqtt).toMatch(/^\s+option httpchk GET \/healthz$/m);
    expect(mqtt).toMatch(/^\s+default-server send-proxy-v2 check /m);
    // A dead node's second failed check comes 500 ms after its first (docs/cluster.md, Health), in both backends.
    for (const backend of [mqtt, section('gateway_http')]) {
      expect(backend).toMatch(
        /^\s+default-server .*\binter "\$\{HAPROXY_CHECK_INTERVAL-2s\}" fastinter "\$\{HAPROXY_CHECK_FASTINTER-500ms\}" fall 2 rise 2\b/m,
      );
    }
    for (const [name] of nodes) {
      expect(mqtt).toContain(`${name}:1883`);
      expect(section('gateway_http')).toContain(`${name}:8080`);
    }
    expect(section('gateway_http')).toMatch(/^\s+option httpchk GET \/healthz$/m);
    expect(cfg).toMatch(/^\s+option forwardfor$/m);
    expect(cfg).toMatch(/^\s+http-request del-header X-Forwarded-For$/m);
  });

  it('ships an HAProxy config that haproxy itself accepts', () => {
    const check = spawnSync(HAPROXY_BINARY, ['-c', '-f', new URL('deploy/haproxy/haproxy.cfg', root).pathname], { encoding: 'utf8' });
    expect(check.stdout + check.stderr).toContain('Configuration file is valid');
    expect(check.status).toBe(0);
  });
});
