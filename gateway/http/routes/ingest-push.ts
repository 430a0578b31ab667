// /ingest/v1/:bridgeId: vendor clouds (OneNET, a generic HMAC-signing vendor) push device readings here; 2xx only once recorded.
import type { FastifyPluginAsync } from 'fastify';
import type { PushRequest, PushResult } from '../../bridges/vendor-push/service.js';

/** What the route needs from the vendor push (gateway/bridges/vendor-push/service.ts VendorPush). */
export interface VendorPushApi {
  verifyUrl(bridgeId: string, query: { msg?: string; nonce?: string; signature?: string }, remoteAddress: string | null): Promise<string>;
  push(bridgeId: string, req: PushRequest): Promise<PushResult>;
}

/** A OneNET batch of 200 readings is about 40 KB; anything much larger is not a push. */
export const PUSH_BODY_LIMIT = 64 * 1024;

const params = {
  type: 'object',
  required: ['bridgeId'],
  properties: { bridgeId: { type: 'string', minLength: 1, maxLength: 64 } },
} as const;
const checkQuery = {
  type: 'object',
  properties: {
    msg: { type: 'string', maxLength: 512 },
    nonce: { type: 'string', maxLength: 128 },
    signature: { type: 'string', maxLength: 128 },
  },
} as const;

export const ingestPushRoutes: FastifyPluginAsync<{ push: VendorPushApi }> = async (app, { push }) => {
  // The signature covers the bytes as sent: the body is kept raw, whatever content type the vendor declares.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: PUSH_BODY_LIMIT }, (_request, body, done) => done(null, body));

  // OneNET's URL check when the push address is configured: echo msg as plain text once the signature checks.
  app.get<{ Params: { bridgeId: string }; Querystring: { msg?: string; nonce?: string; signature?: string } }>(
    '/ingest/v1/:bridgeId',
    { schema: { params, querystring: checkQuery } },
    async (request, reply) => {
      const msg = await push.verifyUrl(request.params.bridgeId, request.query, request.ip);
      return reply.type('text/plain; charset=utf-8').send(msg);
    },
  );

  app.post<{ Params: { bridgeId: string }; Body: Buffer }>(
    '/ingest/v1/:bridgeId',
    { schema: { params }, bodyLimit: PUSH_BODY_LIMIT },
    async (request) => {
      const arrivedHr = performance.now();
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      return push.push(request.params.bridgeId, { raw, headers: request.headers, remoteAddress: request.ip, arrivedHr });
    },
  );
};
