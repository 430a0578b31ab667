// /api/users (admin) and /api/audit (admin, duty officer): dashboard accounts and the sign-in audit log.
import type { FastifyPluginAsync } from 'fastify';
import type { AccountApi } from '../../accounts/service.js';
import type { NewUserInput } from '../../accounts/users.js';
import { GatewayError } from '../../core/errors.js';
import { requireRole } from '../auth.js';
import { ROLES } from '../../access/roles.js';
import { idParams, limitProperty, type IdParams } from '../routes/schemas.js';

export interface AccountAdminOptions {
  accounts: AccountApi;
}

const str = (min: number, max: number) => ({ type: 'string', minLength: min, maxLength: max }) as const;

const newUserBody = {
  type: 'object',
  additionalProperties: false,
  required: ['username', 'name', 'password', 'role'],
  properties: {
    username: str(1, 200),
    name: str(1, 200),
    password: str(1, 1000),
    role: { type: 'string', enum: [...ROLES] },
    community: str(1, 64),
    workerId: str(1, 64),
    volunteerId: str(1, 64),
  },
} as const;

const DEFAULT_AUDIT_LIMIT = 100;

export const accountAdminRoutes: FastifyPluginAsync<AccountAdminOptions> = async (app, { accounts }) => {
  const adminOnly = requireRole('admin');

  app.get('/users', { preHandler: adminOnly }, async () => accounts.listUsers());

  app.post<{ Body: NewUserInput }>('/users', { preHandler: adminOnly, schema: { body: newUserBody } }, async (request, reply) => {
    const caller = request.caller;
    if (!caller) throw new GatewayError('GW_ERR_UNAUTHORIZED');
    return reply.code(201).send(await accounts.createUser(request.body, caller));
  });

  app.post<{ Params: IdParams }>('/users/:id/disable', { preHandler: adminOnly, schema: { params: idParams } }, async (request) => {
    const caller = request.caller;
    if (!caller) throw new GatewayError('GW_ERR_UNAUTHORIZED');
    return accounts.disableUser(request.params.id, caller);
  });

  app.get<{ Querystring: { limit?: number } }>(
    '/audit',
    { preHandler: requireRole('admin', 'duty_officer'), schema: { querystring: { type: 'object', properties: { limit: limitProperty } } } },
    async (request) => accounts.auditLog(request.query.limit ?? DEFAULT_AUDIT_LIMIT),
  );
};
