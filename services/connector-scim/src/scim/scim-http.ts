import { ConnectorError, ConnectorErrorCode, parseRetryAfter, scrubTargetText } from '@provisio/connector-kit';
import { Agent, errors as undiciErrors, request as undiciRequest } from 'undici';
import type { ScimTargetConfig } from '../config.js';

export type Json = Record<string, unknown>;

export interface ScimResponse {
  status: number;
  body: Json | undefined;
  /** The resource version the answer names: its `ETag` header, else `meta.version` (RFC 7644 §3.14). */
  version: string | undefined;
}

/** Bearer tokens: a static one, or OAuth2 client credentials fetched and cached until shortly before they expire. */
export class TokenSource {
  private cached: { token: string; until: number } | undefined;
  private pending: Promise<string> | undefined;

  constructor(
    private readonly auth: ScimTargetConfig['auth'],
    private readonly timeoutMs: number,
  ) {}

  async token(): Promise<string> {
    if (this.auth.type === 'bearer') return this.auth.token;
    if (this.cached && Date.now() < this.cached.until) return this.cached.token;
    this.pending ??= this.fetchToken().finally(() => (this.pending = undefined));
    return this.pending;
  }

  /** After a 401: the cached token is no good any more. */
  invalidate(): boolean {
    if (this.auth.type === 'bearer') return false;
    this.cached = undefined;
    return true;
  }

  private async fetchToken(): Promise<string> {
    const a = this.auth as Extract<ScimTargetConfig['auth'], { type: 'oauth2' }>;
    const form = new URLSearchParams({ grant_type: 'client_credentials', ...(a.scope ? { scope: a.scope } : {}) });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if (a.clientAuthentication === 'basic') headers['authorization'] = `Basic ${Buffer.from(`${encodeURIComponent(a.clientId)}:${encodeURIComponent(a.clientSecret)}`).toString('base64')}`;
    else {
      form.set('client_id', a.clientId);
      form.set('client_secret', a.clientSecret);
    }
    let res: Response;
    try {
      res = await fetch(a.tokenUrl, { method: 'POST', headers, body: form, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (e) {
      throw new ConnectorError(ConnectorErrorCode.Unavailable, `token endpoint unreachable: ${(e as Error).message}`, { cause: e });
    }
    const body = (await res.json().catch(() => ({}))) as { access_token?: string; expires_in?: number; error?: string };
    if (res.status === 429 || res.status >= 500) {
      throw new ConnectorError(res.status === 429 ? ConnectorErrorCode.RateLimited : ConnectorErrorCode.Unavailable, `token endpoint answered ${res.status}`, {
        retryAfterMs: parseRetryAfter(res.headers.get('retry-after'), Date.now()),
      });
    }
    if (!res.ok || !body.access_token) throw new ConnectorError(ConnectorErrorCode.Unauthorized, `token endpoint refused the client credentials (${res.status} ${body.error ?? ''})`.trim());
    const lifetime = Math.max(30, Number(body.expires_in ?? 300));
    this.cached = { token: body.access_token, until: Date.now() + (lifetime - Math.min(60, lifetime / 4)) * 1000 };
    return body.access_token;
  }
}

/**
 * A SCIM error response's detail, for messages. Services echo values in it ("userName ada is
 * already taken", an email): emails are masked here, and the kit redacts the person's values.
 */
function detailOf(body: Json | undefined): string {
  if (!body) return '';
  const d = scrubTargetText([body['scimType'], body['detail']].filter((x) => typeof x === 'string').join(': ')).slice(0, 300);
  return d ? ` (${d})` : '';
}

/** One HTTP exchange as the SCIM client sees it. */
export interface HttpAnswer {
  status: number;
  /** Response headers by lower-case name. */
  header(name: string): string | undefined;
  text: string;
}

/** The transport under ScimHttp (a port: unit tests give their own). */
export type HttpTransport = (url: string, init: { method: string; headers: Record<string, string>; body?: string; timeoutMs: number }) => Promise<HttpAnswer>;

/** A transport failure that is a timeout (connect, answer headers, body, or the whole call). */
export class HttpTimeout extends Error {
  override readonly name = 'TimeoutError';
}

/**
 * HTTP/1.1 with keep-alive through undici's request API: the same client as Node's fetch,
 * without the WHATWG streams and Response objects fetch adds to every call (about a quarter of
 * the connector's CPU per command against a local SCIM service). The call's time limit holds for
 * the whole exchange (an abort signal); connecting has its own limit of at most 10 s, and a
 * connect that times out is the service unreachable, not a slow answer. Redirects are not
 * followed (as with fetch's redirect: 'manual'): the bearer token must not travel to another URL.
 */
export function undiciTransport(): HttpTransport & { close: () => Promise<void> } {
  // Idle connections close after 4 s, as with Node's fetch.
  const agent = new Agent({ keepAliveTimeout: 4_000, connect: { timeout: 10_000 } });
  const send: HttpTransport = async (url, init) => {
    try {
      const res = await undiciRequest(url, {
        method: init.method as 'GET',
        headers: init.headers,
        ...(init.body === undefined ? {} : { body: init.body }),
        dispatcher: agent,
        signal: AbortSignal.timeout(init.timeoutMs),
      });
      const text = await res.body.text();
      return {
        status: res.statusCode,
        header: (name) => {
          const v = res.headers[name];
          return Array.isArray(v) ? v.join(', ') : v;
        },
        text,
      };
    } catch (e) {
      const name = (e as Error)?.name;
      if (name === 'TimeoutError' || e instanceof undiciErrors.RequestAbortedError || e instanceof undiciErrors.HeadersTimeoutError || e instanceof undiciErrors.BodyTimeoutError) {
        throw new HttpTimeout('timed out', { cause: e });
      }
      throw e;
    }
  };
  // Closing ends what is still in flight (a call the kit gave up on) instead of waiting for it.
  return Object.assign(send, { close: () => agent.destroy() });
}

function versionOf(res: HttpAnswer, body: Json | undefined): string | undefined {
  const header = res.header('etag');
  if (header) return header;
  const version = (body?.['meta'] as Json | undefined)?.['version'];
  return typeof version === 'string' && version !== '' ? version : undefined;
}

/**
 * HTTP to one SCIM service: JSON in and out, bearer auth (refreshing OAuth2 tokens once on 401),
 * and failures classified: unreachable / 5xx → transient, 429 → rate limited with Retry-After,
 * 401/403 → unauthorized, other 4xx → the target refused the data.
 */
export class ScimHttp {
  constructor(
    private readonly baseUrl: string,
    private readonly tokens: TokenSource,
    private readonly headers: Record<string, string>,
    private readonly timeoutMs: number,
    private readonly transport: HttpTransport = undiciTransport(),
  ) {}

  async close(): Promise<void> {
    await (this.transport as Partial<{ close: () => Promise<void> }>).close?.();
  }

  async request(method: string, path: string, body?: unknown, o: { accept?: number[]; headers?: Record<string, string> } = {}): Promise<ScimResponse> {
    // Messages (results, logs, the audit trail) name the resource, never the query: a look-up
    // filter carries the person's userName or externalId.
    const query = path.indexOf('?');
    const shown = query < 0 ? path : `${path.slice(0, query)}?…`;
    for (let attempt = 1; ; attempt++) {
      const token = await this.tokens.token();
      let res: HttpAnswer;
      try {
        res = await this.transport(`${this.baseUrl.replace(/\/$/, '')}${path}`, {
          method,
          headers: { ...this.headers, ...o.headers, authorization: `Bearer ${token}`, accept: 'application/scim+json, application/json', ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          timeoutMs: this.timeoutMs,
        });
      } catch (e) {
        const timeout = (e as Error).name === 'TimeoutError';
        throw new ConnectorError(timeout ? ConnectorErrorCode.Timeout : ConnectorErrorCode.Unavailable, `${method} ${shown}: ${timeout ? 'timed out' : ((e as { cause?: Error }).cause?.message ?? (e as Error).message)}`, { cause: e });
      }
      const text = res.text;
      let json: Json | undefined;
      try {
        json = text ? (JSON.parse(text) as Json) : undefined;
      } catch {
        json = undefined;
      }
      if (res.status >= 300 && res.status < 400 && !o.accept?.includes(res.status)) {
        // Not followed: the request carries the bearer token. Only where it points is named (never a query).
        let where = '';
        try {
          const to = new URL(res.header('location') ?? '', this.baseUrl);
          where = ` to ${to.origin}${to.pathname}`;
        } catch {
          where = '';
        }
        throw new ConnectorError(ConnectorErrorCode.Rejected, `${method} ${shown} answered ${res.status}, a redirect${where}: redirects are not followed (the bearer token would go along); set the target's baseUrl to the final URL`, { status: res.status });
      }
      if ((res.status >= 200 && res.status < 300) || o.accept?.includes(res.status)) return { status: res.status, body: json, version: versionOf(res, json) };
      const what = `${method} ${shown} answered ${res.status}${detailOf(json)}`;
      if (res.status === 401 && attempt === 1 && this.tokens.invalidate()) continue;
      if (res.status === 429) throw new ConnectorError(ConnectorErrorCode.RateLimited, what, { status: 429, retryAfterMs: parseRetryAfter(res.header('retry-after') ?? null, Date.now()) ?? 1000 });
      if (res.status >= 500 && res.status !== 501) {
        const retryAfter = res.header('retry-after');
        throw new ConnectorError(ConnectorErrorCode.Unavailable, what, { status: res.status, ...(retryAfter ? { retryAfterMs: parseRetryAfter(retryAfter, Date.now()) } : {}) });
      }
      if (res.status === 401 || res.status === 403) throw new ConnectorError(ConnectorErrorCode.Unauthorized, what, { status: res.status });
      if (res.status === 408) throw new ConnectorError(ConnectorErrorCode.Timeout, what, { status: res.status });
      throw new ConnectorError(ConnectorErrorCode.Rejected, what, { status: res.status });
    }
  }
}
