// Who is calling: the identity every access decision is made about, whatever way the caller signed in.
import type { Role } from './roles.js';

/** Who is calling /api/…: a machine client with the API token, or a dashboard session. */
export interface Caller {
  kind: 'api_token' | 'session';
  /** Shown as the actor when the caller acknowledges or resolves without naming someone. */
  name: string;
  /** 'admin' for the API token. */
  role: Role;
  /** The dashboard user's id (session callers only). */
  userId?: string;
  /** A worker sees only this community; also set for a duty officer tied to one station. */
  community?: string;
  /** The registry worker behind a worker session. */
  workerId?: string;
  /** The registry volunteer behind a volunteer session: she sees only her own visits. */
  volunteerId?: string;
}
