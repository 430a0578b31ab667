// The registry's client-certificate fields of a device: requireClientCert must be a boolean, certFingerprint a SHA-256 fingerprint, stored in the form Node reports.
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/core/errors.js';
import { validateRegistry } from '../../gateway/registry/load.js';

const FP = 'ab'.repeat(32);

function doc(device: Record<string, unknown>) {
  return {
    communities: [{ id: 'andali', name: '安达里社区' }],
    residents: [{ id: 'r-001', name: '张桂兰', community: 'andali', address: '安达里3号楼2门401', location: { lat: 39.11, lon: 117.18 } }],
    devices: [{ id: 'btn-001', kind: 'sos_button', resident: 'r-001', secret: 's3cret-btn-001', ...device }],
  };
}

function issues(device: Record<string, unknown>): string[] {
  try {
    validateRegistry(doc(device));
  } catch (err) {
    if (
      err instanceof GatewayError &&
      typeof err.details === 'object' &&
      err.details !== null &&
      'issues' in err.details &&
      Array.isArray(err.details.issues)
    ) {
      return err.details.issues.map(String);
    }
    throw err;
  }
  return [];
}

describe('registry: device certificate fields', () => {
  it('stores a fingerprint as upper-case pairs joined by ":", however it was written', () => {
    const expected = Array(32).fill('AB').join(':');
    expect(validateRegistry(doc({ certFingerprint: FP })).devices[0]?.certFingerprint).toBe(expected);
    expect(validateRegistry(doc({ certFingerprint: expected.toLowerCase() })).devices[0]?.certFingerprint).toBe(expected);
    expect(validateRegistry(doc({ requireClientCert: true })).devices[0]?.requireClientCert).toBe(true);
  });

  it('refuses a fingerprint that is not SHA-256 and a requirement that is not a boolean, naming the field', () => {
    const fpIssue = 'devices[0].certFingerprint: expected a SHA-256 fingerprint: 64 hex digits, pairs optionally joined by ":"';
    expect(issues({ certFingerprint: 'ab'.repeat(20) })).toEqual([fpIssue]);
    expect(issues({ certFingerprint: `${FP.slice(0, 62)}zz` })).toEqual([fpIssue]);
    expect(issues({ requireClientCert: 'yes' })).toEqual([expect.stringMatching(/^devices\[0\]\.requireClientCert: /)]);
  });
});
