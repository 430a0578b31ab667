// /api/registry (admin): export the registry document without secrets, and import an edited one with REGISTRY_FILE's validation.
import type { FastifyPluginAsync } from 'fastify';
import { GatewayError } from '../../core/errors.js';
import { parseRegistryText } from '../../registry/load.js';
import { requireRole } from '../auth.js';
import { errorBody } from '../errors.js';
import type { DashboardPageDeps } from './page-deps.js';

/** A registry of a few thousand residents fits easily; anything bigger is not an edit made on a screen. */
export const REGISTRY_BODY_LIMIT = 2 * 1024 * 1024;

interface ImportBody {
  format: 'yaml' | 'json';
  text: string;
}

const importBody = {
  type: 'object',
  additionalProperties: false,
  required: ['format', 'text'],
  properties: { format: { type: 'string', enum: ['yaml', 'json'] }, text: { type: 'string', minLength: 1 } },
} as const;

export const registryRoutes: FastifyPluginAsync<{ pages: DashboardPageDeps }> = async (app, { pages }) => {
  const admin = requireRole('admin');

  app.get<{ Querystring: { format?: 'yaml' | 'json' } }>(
    '/registry',
    {
      preHandler: admin,
      schema: {
        querystring: { type: 'object', additionalProperties: false, properties: { format: { type: 'string', enum: ['yaml', 'json'] } } },
      },
    },
    async (request) => pages.exportRegistry(request.query.format ?? 'yaml'),
  );

  app.post<{ Body: ImportBody }>(
    '/registry',
    { preHandler: admin, bodyLimit: REGISTRY_BODY_LIMIT, schema: { body: importBody } },
    async (request, reply) => {
      try {
        const doc = parseRegistryText(request.body.text, request.body.format);
        const counts = await pages.importRegistry(doc);
        request.log.info({ by: request.caller?.name, counts }, 'registry imported from the dashboard');
        return { imported: true, counts };
      } catch (err) {
        // Every problem goes back as its own line (path: message), so the editor can list them beside the text.
        if (err instanceof GatewayError && err.code === 'GW_ERR_REGISTRY_INVALID') {
          const issues = issuesOf(err);
          // The message carries every line too (one per line), for clients that read only `message`.
          const body = errorBody(err.code, issues.join('\n'));
          return reply.code(400).send({ error: { ...body.error, issues } });
        }
        throw err;
      }
    },
  );
};

function issuesOf(err: GatewayError): string[] {
  const details = err.details;
  if (typeof details === 'object' && details !== null && 'issues' in details && Array.isArray(details.issues)) {
    return details.issues.filter((i): i is string => typeof i === 'string');
  }
  return [err.message];
}
