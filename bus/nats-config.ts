import { type Credentials, publicKey, type Role } from "./credentials.ts";
import { rolePermissions } from "./permissions.ts";

/**
 * The NATS server's users: one nkey per person and per service, each with its role's
 * permissions (bus/permissions.ts). Only public keys are written: the file holds no
 * secret. NATS's configuration format reads JSON, so the block is JSON.
 */

export interface NatsUser {
  /** the public nkey (`U…`) */
  nkey: string;
  role: Role;
  token: string;
}

export function natsUserOf(credentials: Credentials): NatsUser {
  return { nkey: publicKey(credentials), role: credentials.role, token: credentials.token };
}

/** The `authorization` block, to include from the server's configuration. */
export function authorizationBlock(users: readonly NatsUser[]): string {
  const entries = users.map((u) => {
    const permissions = rolePermissions(u.role, u.token);
    return permissions ? { nkey: u.nkey, permissions } : { nkey: u.nkey };
  });
  return `# Drover's NATS users, written by 'drover admin': do not edit by hand.
authorization: ${JSON.stringify({ users: entries }, null, 2)}
`;
}

/** A whole server configuration: a personal stack's own NATS (drover up). */
export function serverConfig(options: {
  host: string;
  port: number;
  storeDir: string;
  users: readonly NatsUser[];
}): string {
  return `# A personal Drover stack's NATS, written by 'drover up'.
listen: ${JSON.stringify(`${options.host}:${options.port}`)}
jetstream: { store_dir: ${JSON.stringify(options.storeDir)} }
${authorizationBlock(options.users)}`;
}
