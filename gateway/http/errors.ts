// Turns every failure into `{ error: { code, message } }` with the catalogue's status, without leaking internals.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCodes, GatewayError, type ErrorCode } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

export function errorBody(code: ErrorCode, message?: string): ErrorBody {
  return { error: { code, message: message ?? ErrorCodes[code].message } };
}

/** The fields fastify puts on its own errors (validation, body limit, content type, bad JSON). */
interface FrameworkError extends Error {
  code?: string;
  statusCode?: number;
  validation?: unknown;
}

function isFrameworkError(err: unknown): err is FrameworkError {
  return err instanceof Error && ('statusCode' in err || 'validation' in err);
}

interface Mapped {
  status: number;
  body: ErrorBody;
}

function mapError(err: unknown): Mapped | null {
  if (err instanceof GatewayError) {
    // A 5xx message may carry internals (SQL, provider text): the client gets the catalogue's words only.
    const message = err.statusCode >= 500 ? undefined : err.message;
    return { status: err.statusCode, body: errorBody(err.code, message) };
  }
  if (!isFrameworkError(err)) return null;
  if (err.validation !== undefined) return { status: 400, body: errorBody('GW_ERR_BAD_REQUEST', err.message) };
  const status = err.statusCode ?? 500;
  if (status === 413) return { status, body: errorBody('GW_ERR_PAYLOAD_TOO_LARGE') };
  if (status === 415) return { status, body: errorBody('GW_ERR_UNSUPPORTED_MEDIA_TYPE') };
  // Fastify's own 4xx messages (malformed JSON, empty body) describe the request, not the server.
  if (status >= 400 && status < 500)
    return { status, body: errorBody('GW_ERR_BAD_REQUEST', err.code?.startsWith('FST_') ? err.message : undefined) };
  return null;
}

export function createErrorHandler(log: Logger) {
  return async (err: unknown, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const mapped = mapError(err);
    if (mapped && mapped.status < 500) {
      request.log.debug({ code: mapped.body.error.code, status: mapped.status }, 'request refused');
      return reply.code(mapped.status).send(mapped.body);
    }
    log.error({ err, method: request.method, route: request.routeOptions.url ?? null, reqId: request.id }, 'request failed');
    return reply.code(mapped?.status ?? 500).send(mapped?.body ?? errorBody('GW_ERR_INTERNAL'));
  };
}

export async function notFoundHandler(_request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  return reply.code(404).send(errorBody('GW_ERR_NOT_FOUND'));
}
