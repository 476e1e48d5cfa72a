import type { Request } from 'express';

/** The SCIM base URL for locations: SCIM_BASE_URL when set (behind a proxy), else this request's host. */
export function scimBaseUrl(req: Request, configured: string | undefined): string {
  if (configured) return configured.replace(/\/$/, '');
  return `${req.protocol}://${req.get('host') ?? 'localhost'}/scim/v2`;
}
