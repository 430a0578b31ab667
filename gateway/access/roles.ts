// The dashboard's roles: who may do what is decided against these, in the access layer and the routes.

/** A machine client with the API token acts with full rights, like an admin. */
export const ROLES = ['admin', 'duty_officer', 'worker', 'volunteer'] as const;
export type Role = (typeof ROLES)[number];
