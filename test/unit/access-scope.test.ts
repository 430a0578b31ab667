// The access layer's scoping rules: who sees which community, the acting responder, a volunteer's own visits.
import { describe, expect, it } from 'vitest';
import type { Caller } from '../../gateway/access/caller.js';
import {
  actingResponder,
  assertIncidentInScope,
  communityScope,
  readableCommunity,
  seesCommunity,
  volunteerSelf,
} from '../../gateway/access/scope.js';
import { GatewayError } from '../../gateway/core/errors.js';

const admin: Caller = { kind: 'api_token', name: 'API', role: 'admin' };
const officer: Caller = { kind: 'session', name: '值班员 陈', role: 'duty_officer', userId: 'u-1' };
const worker: Caller = { kind: 'session', name: '李明', role: 'worker', userId: 'u-2', community: 'andali', workerId: 'w-01' };
const strayWorker: Caller = { kind: 'session', name: '王五', role: 'worker', userId: 'u-3' };
const volunteer: Caller = { kind: 'session', name: '赵六', role: 'volunteer', userId: 'u-4', volunteerId: 'v-01' };

function refusal(run: () => unknown): { code: string; message: string } {
  try {
    run();
  } catch (err) {
    if (err instanceof GatewayError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('community scope', () => {
  it('confines a worker to her community and lets staff without a station see all', () => {
    expect(communityScope(worker)).toBe('andali');
    expect(communityScope(admin)).toBeNull();
    expect(communityScope(officer)).toBeNull();
    expect(communityScope({ ...officer, community: 'xinhua' })).toBe('xinhua');
  });

  it('answers 401 without a caller', () => {
    expect(refusal(() => communityScope(null)).code).toBe('GW_ERR_UNAUTHORIZED');
    expect(refusal(() => readableCommunity(null, 'andali')).code).toBe('GW_ERR_UNAUTHORIZED');
  });

  it('refuses a worker account tied to no community with 403, never an empty or an unscoped answer', () => {
    for (const run of [
      () => communityScope(strayWorker),
      () => readableCommunity(strayWorker),
      () => readableCommunity(strayWorker, 'andali'),
    ]) {
      expect(refusal(run)).toEqual({ code: 'GW_ERR_FORBIDDEN', message: 'this worker account has no community' });
    }
    expect(refusal(() => assertIncidentInScope(strayWorker, { communityId: 'andali' })).code).toBe('GW_ERR_FORBIDDEN');
  });

  it('gives a confined caller her own community, and 403 for another one she asks for', () => {
    expect(readableCommunity(worker)).toBe('andali');
    expect(readableCommunity(worker, 'andali')).toBe('andali');
    expect(refusal(() => readableCommunity(worker, 'xinhua'))).toEqual({
      code: 'GW_ERR_FORBIDDEN',
      message: 'you can see only your own community (andali)',
    });
  });

  it('gives an unconfined caller the community asked for, or all', () => {
    expect(readableCommunity(admin, 'xinhua')).toBe('xinhua');
    expect(readableCommunity(officer)).toBeNull();
  });

  it('refuses an incident of another community and admits one of her own', () => {
    expect(() => assertIncidentInScope(worker, { communityId: 'andali' })).not.toThrow();
    expect(() => assertIncidentInScope(admin, { communityId: 'xinhua' })).not.toThrow();
    expect(refusal(() => assertIncidentInScope(worker, { communityId: 'xinhua' })).code).toBe('GW_ERR_FORBIDDEN');
  });

  it('lets live-feed messages reach callers by the same rule, and nothing reach a worker without a community', () => {
    expect(seesCommunity(worker, 'andali')).toBe(true);
    expect(seesCommunity(worker, 'xinhua')).toBe(false);
    expect(seesCommunity(worker, null)).toBe(true);
    expect(seesCommunity(officer, 'xinhua')).toBe(true);
    expect(seesCommunity(strayWorker, null)).toBe(false);
    expect(seesCommunity(strayWorker, 'andali')).toBe(false);
  });
});

describe('acting responder', () => {
  it('makes a worker act under her own name and refuses another', () => {
    expect(actingResponder(worker, undefined)).toEqual({ role: 'worker', id: 'w-01', name: '李明', phone: null });
    expect(refusal(() => actingResponder(worker, '张三')).code).toBe('GW_ERR_FORBIDDEN');
  });

  it('lets staff name a colleague, and a machine client act as "API"', () => {
    expect(actingResponder(officer, '张三')).toEqual({ role: 'staff', id: 'u-1', name: '张三', phone: null });
    expect(actingResponder(null, undefined)).toEqual({ role: 'staff', id: null, name: 'API', phone: null });
  });
});

describe('volunteer self', () => {
  it('gives a volunteer her own id and refuses anyone else', () => {
    expect(volunteerSelf(volunteer)).toBe('v-01');
    expect(volunteerSelf(volunteer, 'v-01')).toBe('v-01');
    expect(refusal(() => volunteerSelf(volunteer, 'v-02')).code).toBe('GW_ERR_FORBIDDEN');
    expect(refusal(() => volunteerSelf({ ...volunteer, volunteerId: undefined })).message).toBe(
      'this volunteer account is not linked to a registry volunteer',
    );
  });
});
