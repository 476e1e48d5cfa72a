import type { Principal } from '@provisio/auth';

/** Who did it, for records and events: the token's subject (never a secret). */
export function actorOf(p: Principal | undefined): string {
  return p?.subject ? `user:${p.subject}` : p?.clientId ? `client:${p.clientId}` : 'unknown';
}
