// JSON schemas shared by several routes.

export interface IdParams {
  id: string;
}

export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 100 } },
} as const;

/** `?limit=` on list routes: 1..1000, so one request cannot ask the database for everything. */
export const limitProperty = { type: 'integer', minimum: 1, maximum: 1000 } as const;
