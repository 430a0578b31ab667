// Configuration defaults that follow other variables, and the log format choice.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../gateway/config/load.js';
import { createLogger } from '../../gateway/core/logger.js';

describe('configuration', () => {
  it('derives PUBLIC_URL from HTTP_PORT when it is not set, and keeps an explicit one', () => {
    expect(loadConfig({}).publicUrl).toBe('http://localhost:8080');
    expect(loadConfig({ HTTP_PORT: '28080' }).publicUrl).toBe('http://localhost:28080');
    expect(loadConfig({ HTTP_PORT: '28080', PUBLIC_URL: 'https://care.example.cn/' }).publicUrl).toBe('https://care.example.cn');
  });

  it('takes LOG_FORMAT auto, json or pretty, and refuses anything else with one line', () => {
    expect(loadConfig({}).logFormat).toBe('auto');
    expect(loadConfig({ LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
    expect(() => loadConfig({ LOG_FORMAT: 'xml' })).toThrow(/^LOG_FORMAT: .*"auto".*"json".*"pretty".*\(got "xml"\)$/);
  });

  it('takes ALARM_SLOW_LOG_MS in milliseconds (default 250, 0 off), and refuses anything else with one line', () => {
    expect(loadConfig({}).alarmSlowLogMs).toBe(250);
    expect(loadConfig({ ALARM_SLOW_LOG_MS: '0' }).alarmSlowLogMs).toBe(0);
    expect(loadConfig({ ALARM_SLOW_LOG_MS: '12' }).alarmSlowLogMs).toBe(12);
    expect(() => loadConfig({ ALARM_SLOW_LOG_MS: 'slow' })).toThrow('ALARM_SLOW_LOG_MS: expected a whole number (got "slow")');
    expect(() => loadConfig({ ALARM_SLOW_LOG_MS: '-1' })).toThrow('ALARM_SLOW_LOG_MS: expected 0 or more (got "-1")');
    expect(() => loadConfig({ ALARM_SLOW_LOG_MS: '2.5' })).toThrow('ALARM_SLOW_LOG_MS: expected a whole number (got "2.5")');
    expect(() => loadConfig({ ALARM_SLOW_LOG_MS: '600001' })).toThrow('ALARM_SLOW_LOG_MS: expected 600000 or less (got "600001")');
  });
});

describe('log format', () => {
  const capture = () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    return { lines, destination };
  };

  it('writes one readable line per entry when pretty, with the part and without personal data', () => {
    const { lines, destination } = capture();
    const log = createLogger({ level: 'info', pretty: true, destination });
    log.child({ part: 'visits' }).info({ key: 'reminder:2026-12-07:v-01', phone: '+8613700000001' }, 'visit reminder sent');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\] INFO: visits: visit reminder sent /);
    expect(lines[0]).toContain('"key":"reminder:2026-12-07:v-01"');
    expect(lines[0]).not.toContain('+8613700000001');
    expect(lines[0]).not.toContain('"level"');
  });

  it('writes JSON lines otherwise', () => {
    const { lines, destination } = capture();
    createLogger({ level: 'info', destination }).info({ phone: '+8613700000001' }, 'hello');
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 30, msg: 'hello', phone: '[redacted]' });
  });
});
