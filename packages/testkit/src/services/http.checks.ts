import { connect } from 'node:net';

/**
 * Writes `raw` bytes to a connection of their own to `url`'s host and port, and resolves with
 * what the server wrote until it closed: for requests a fetch client refuses to send
 * (malformed, oversized headers).
 */
export function rawHttpExchange(url: string, raw: string): Promise<{ head: string; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(raw));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const end = text.indexOf('\r\n\r\n');
      resolve({ head: text.slice(0, end), body: text.slice(end + 4) });
    });
  });
}

/**
 * Expects each `[method, target, allow]` to be answered 405 with that `Allow` and a problem
 * document (RFC 9110 §15.5.6, RFC 9457) naming the target.
 */
export async function expectMethodsNotAllowed(
  baseUrl: string,
  cases: readonly (readonly [method: string, target: string, allow: string])[],
): Promise<void> {
  for (const [method, target, allow] of cases) {
    const response = await fetch(`${baseUrl}${target}`, { method });
    expect({ method, target, status: response.status }).toEqual({ method, target, status: 405 });
    expect(response.headers.get('allow')).toBe(allow);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toMatchObject({
      type: 'about:blank',
      title: 'Method Not Allowed',
      status: 405,
      instance: target,
    });
  }
}

/** The `access-control-*` headers of an answer, by lower-case name (none: `{}`). */
export function corsHeadersOf(response: Response): Record<string, string> {
  return Object.fromEntries(
    [...response.headers].filter(([name]) => name.startsWith('access-control-')),
  );
}

/**
 * The CORS headers every answer to an allowed `origin` carries in the apps (CORS_ORIGINS),
 * whoever served it: Express, a fast path in front of it or a problem document.
 */
export function corsMarked(origin: string): Record<string, string> {
  return {
    'access-control-allow-origin': origin,
    'access-control-allow-credentials': 'true',
    'access-control-expose-headers': 'Retry-After,Idempotent-Replayed,WWW-Authenticate',
  };
}

/** The CORS headers of the apps' 204 answer to a preflight from an allowed `origin`. */
export function corsPreflight(origin: string): Record<string, string> {
  return {
    'access-control-allow-origin': origin,
    'access-control-allow-credentials': 'true',
    'access-control-allow-methods': 'GET,HEAD,POST,PUT,DELETE,OPTIONS',
    'access-control-allow-headers':
      'Authorization,Content-Type,Idempotency-Key,Last-Event-ID,traceparent,tracestate',
    'access-control-max-age': '600',
  };
}
