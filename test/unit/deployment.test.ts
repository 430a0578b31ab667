// The deployment files agree with the contract: there is no Docker engine here, so they are parsed and checked.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configSchema } from '../../gateway/config/schema.js';
import { validateRegistry } from '../../gateway/registry/load.js';

interface Compose {
  services: Record<string, { build?: string; image?: string; ports?: string[]; environment?: Record<string, string>; volumes?: string[]; depends_on?: string[] }>;
  volumes: Record<string, unknown>;
}

const root = new URL('../../', import.meta.url);
const compose = parse(readFileSync(new URL('docker-compose.yml', root), 'utf8')) as Compose;
const dockerfile = readFileSync(new URL('Dockerfile', root), 'utf8');

describe('docker-compose.yml and Dockerfile', () => {
  it('runs the gateway on the contract ports with a persistent DATA_DIR', () => {
    const gw = compose.services.gateway!;
    expect(gw.build).toBe('.');
    expect(gw.ports).toEqual(expect.arrayContaining(['1883:1883', '8080:8080']));
    expect(gw.environment).toMatchObject({ MQTT_PORT: '1883', HTTP_PORT: '8080', DATA_DIR: '/data', TZ: 'Asia/Shanghai' });
    expect(gw.volumes).toContain('gateway-data:/data');
    expect(compose.volumes).toHaveProperty('gateway-data');
  });

  it('only sets variables the gateway knows, and points InfluxDB at the influxdb:1.8 service', () => {
    const known = new Set([...Object.keys(configSchema.shape), 'TZ']);
    for (const name of Object.keys(compose.services.gateway!.environment ?? {})) expect(known, name).toContain(name);
    expect(compose.services.influxdb!.image).toBe('influxdb:1.8');
    expect(compose.services.gateway!.environment!.INFLUX_URL).toBe('http://influxdb:8086');
    expect(compose.services.gateway!.depends_on).toContain('influxdb');
  });

  it('builds in two stages and runs as a non-root user', () => {
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/EXPOSE 1883 8080/);
  });

  it('ships an example registry that validates', () => {
    const doc = parse(readFileSync(new URL('registry/example.yaml', root), 'utf8')) as unknown;
    expect(() => validateRegistry(doc)).not.toThrow();
  });
});
