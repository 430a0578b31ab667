// The gateway's HTTP API as a scenario sees it from outside: bearer token, JSON, only the fields the checks use.
import { z } from 'zod';

const incidentSchema = z.looseObject({
  id: z.string(),
  resident: z.string(),
  type: z.string(),
  state: z.string(),
  openedAt: z.number().nullable().optional(),
  acknowledgedBy: z.looseObject({ name: z.string().optional(), id: z.string().nullable().optional() }).nullable().optional(),
  pages: z.array(z.looseObject({ to: z.string(), role: z.string(), status: z.string() })).default([]),
});

const deviceSchema = z.looseObject({ id: z.string(), kind: z.string(), resident: z.string(), state: z.string() });

const outageSchema = z.looseObject({
  id: z.string(),
  state: z.string(),
  place: z.looseObject({ kind: z.string(), community: z.string(), building: z.string().nullable() }),
  devices: z.array(z.looseObject({ id: z.string(), backAt: z.string().nullable() })),
});

const taskSchema = z.looseObject({
  id: z.string(),
  kind: z.string(),
  state: z.string(),
  resident: z.string(),
  device: z.string().nullable(),
});

/** The API's largest page (`?limit=`). */
export const API_LIST_LIMIT = 1000;

export type ApiIncident = z.infer<typeof incidentSchema>;
export type ApiDevice = z.infer<typeof deviceSchema>;
export type ApiOutage = z.infer<typeof outageSchema>;
export type ApiTask = z.infer<typeof taskSchema>;

export class GatewayApi {
  constructor(private readonly deps: { baseUrl: string; token: string }) {}

  /** Newest first; the API answers at most 1000 per request, so counts above that need a narrower filter. */
  async incidents(filter: { resident?: string; state?: string } = {}): Promise<ApiIncident[]> {
    const q = new URLSearchParams({ limit: String(API_LIST_LIMIT), ...filter });
    return z.array(incidentSchema).parse(await this.getJson(`/api/incidents?${q.toString()}`));
  }

  async devices(): Promise<ApiDevice[]> {
    return z.array(deviceSchema).parse(await this.getJson('/api/devices'));
  }

  /** Grouped device outages (storm grouping), open and closed. */
  async outages(): Promise<ApiOutage[]> {
    return z.array(outageSchema).parse(await this.getJson(`/api/outages?limit=${API_LIST_LIMIT}`));
  }

  /** Care tasks, open and closed. */
  async tasks(): Promise<ApiTask[]> {
    return z.array(taskSchema).parse(await this.getJson(`/api/tasks?limit=${API_LIST_LIMIT}`));
  }

  /** Status code of /healthz (open, no token), or 0 when the gateway could not be reached. */
  async health(): Promise<number> {
    try {
      const res = await fetch(`${this.deps.baseUrl}/healthz`, { signal: AbortSignal.timeout(3000) });
      await res.arrayBuffer();
      return res.status;
    } catch {
      return 0;
    }
  }

  private async getJson(path: string): Promise<unknown> {
    const res = await fetch(this.deps.baseUrl + path, {
      headers: { authorization: `Bearer ${this.deps.token}` },
      signal: AbortSignal.timeout(10_000),
    });
    const body = await res.text();
    if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}: ${body.slice(0, 200)}`);
    return JSON.parse(body) as unknown;
  }
}
