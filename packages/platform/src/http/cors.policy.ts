import { type Server } from 'node:http';
import cors from 'cors';
import { z } from 'zod';
import { type FrontHandler, putFirst } from './front.listener';

/** Methods a page on an allowed origin may use (answered in preflights). */
export const CORS_ALLOWED_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS'] as const;

/**
 * Request headers a page on an allowed origin may send: the bearer token, JSON bodies, the
 * commands' Idempotency-Key, an EventSource's Last-Event-ID, and the W3C trace context the APIs
 * continue (`traceparent`, `tracestate`).
 */
export const CORS_ALLOWED_HEADERS = [
  'Authorization',
  'Content-Type',
  'Idempotency-Key',
  'Last-Event-ID',
  'traceparent',
  'tracestate',
] as const;

/**
 * Response headers such a page may read, beyond the CORS-safelisted ones: every one the apps
 * send for a client to act on — Retry-After (429, 503, 409 in flight), Idempotent-Replayed (a
 * replayed command answer), WWW-Authenticate (401). They send no Location or RateLimit-*.
 */
export const CORS_EXPOSED_HEADERS = [
  'Retry-After',
  'Idempotent-Replayed',
  'WWW-Authenticate',
] as const;

/** How long a browser may cache a preflight's answer, in seconds. */
export const CORS_MAX_AGE_SECONDS = 600;

const ORIGIN = /^([a-z][a-z0-9+.-]*):\/\/([^/?#@\\\s]+)$/i;

/**
 * The origins of CORS_ORIGINS, comma-separated (`https://game.example.com,http://127.0.0.1:5500`),
 * as browsers send them in `Origin`: scheme and host in lower case, without the scheme's default
 * port. Empty: none. Throws naming the first entry that is not an origin
 * (`scheme://host[:port]`, no path, query or user), and on `*` or any wildcard: the APIs allow
 * credentials (the session cookie, Authorization), which browsers never combine with `*`.
 */
export function parseCorsOrigins(value: string): string[] {
  const origins = new Set<string>();
  for (const raw of value.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    if (entry.includes('*'))
      throw new Error(
        `wildcards are not accepted, list each origin (credentials are allowed, and browsers refuse them with *): ${entry}`,
      );
    origins.add(originOf(entry));
  }
  return [...origins];
}

function originOf(entry: string): string {
  const refused = () =>
    new Error(
      `not an origin (scheme://host[:port], without path, e.g. https://app.example.com): ${entry}`,
    );
  if (!ORIGIN.test(entry)) throw refused();
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    throw refused();
  }
  if (url.host === '' || url.username || url.password || url.search || url.hash) throw refused();
  if (url.pathname !== '' && url.pathname !== '/') throw refused();
  return `${url.protocol}//${url.host}`;
}

/**
 * CORS_ORIGINS: the origins whose pages may call the APIs from a browser, with credentials
 * (see {@link parseCorsOrigins}). Unset or empty: no CORS at all, same-origin pages only.
 */
export const corsOriginsSetting = z
  .string()
  .default('')
  .transform((value, context) => {
    try {
      return parseCorsOrigins(value);
    } catch (error) {
      context.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });

/**
 * The CORS step for `origins` (exact origins, as `parseCorsOrigins` gives them), as a front
 * handler, made with the `cors` package; undefined without origins. A request whose Origin is
 * one of them gets `Access-Control-Allow-Origin: <it>`, `-Allow-Credentials: true`,
 * `-Expose-Headers` and `Vary: Origin` and goes on; a preflight (OPTIONS) from one of them is
 * answered here, 204 with the allowed methods and headers. Any other request — no Origin, another
 * origin, a preflight from another origin — goes on untouched, without a CORS header.
 */
export function corsPolicy(origins: readonly string[]): FrontHandler | undefined {
  if (origins.length === 0) return undefined;
  const allowed = new Set(origins);
  const middleware = cors({
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
    credentials: true,
    methods: [...CORS_ALLOWED_METHODS],
    allowedHeaders: [...CORS_ALLOWED_HEADERS],
    exposedHeaders: [...CORS_EXPOSED_HEADERS],
    maxAge: CORS_MAX_AGE_SECONDS,
    preflightContinue: false,
    optionsSuccessStatus: 204,
  });
  // The origin callback never fails: `next` is never given an error.
  return (req, res, next) => middleware(req, res, () => next());
}

/**
 * Puts the CORS step for `origins` (see {@link corsPolicy}) in front of everything the server
 * serves — Express and the listeners put in front of it with `putInFront`, whenever they are
 * installed — so every answer, those of the fast paths and problem documents included, carries
 * the CORS headers. Nothing when `origins` is empty.
 */
export function allowCrossOrigin(server: Server, origins: readonly string[]): void {
  const policy = corsPolicy(origins);
  if (policy) putFirst(server, policy);
}
