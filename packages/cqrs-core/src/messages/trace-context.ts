import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) as it travels in an envelope's
 * metadata: the `traceparent` and `tracestate` keys, the same names and values as the HTTP
 * headers, so OpenTelemetry's propagators read and write them as they are (S1-10).
 */
export interface TraceContext {
  /** `<version>-<trace-id>-<parent-id>-<flags>`, e.g. `00-4bf9…4736-00f0…02b7-01`. */
  traceparent: string;
  tracestate?: string;
}

// Version 00 is exactly four fields; a later version may append fields (the spec's rule);
// version ff and all-zero ids are invalid.
const TRACEPARENT =
  /^(?!ff)([0-9a-f]{2})-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}(-[^\s]*)?$/;
const MAX_TRACESTATE = 512;

/** Whether `value` is a valid `traceparent` (W3C Trace Context, level 1). */
export function isTraceparent(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const match = TRACEPARENT.exec(value);
  return !!match && (match[1] !== '00' || match[2] === undefined);
}

/**
 * The trace context in `carrier` (message metadata, HTTP headers): `traceparent` if it is
 * valid, with `tracestate` if present and not oversized; undefined otherwise (an invalid
 * `traceparent` is ignored, as the spec asks, and a new trace starts).
 * Header values that came as arrays (node:http) are read from their first element.
 */
export function traceContextOf(
  carrier: Readonly<Record<string, unknown>> | undefined,
): TraceContext | undefined {
  const traceparent = first(carrier?.traceparent);
  if (!isTraceparent(traceparent)) return undefined;
  const tracestate = first(carrier?.tracestate);
  return typeof tracestate === 'string' && tracestate !== '' && tracestate.length <= MAX_TRACESTATE
    ? { traceparent, tracestate }
    : { traceparent };
}

function first(value: unknown): unknown {
  return Array.isArray(value) ? value[0] : value;
}

const incoming = new AsyncLocalStorage<TraceContext | undefined>();

/**
 * Runs `fn` with the trace context of an incoming request (its HTTP headers, say): messages
 * created inside it that have no cause (`MessageFactory`) join that trace, so a command sent
 * from an HTTP handler continues the caller's trace. An invalid or absent context runs `fn`
 * unchanged. Inside a message handler the handled message's context wins (it is the cause).
 */
export function runInTraceContext<T>(
  carrier: Readonly<Record<string, unknown>> | undefined,
  fn: () => T,
): T {
  return incoming.run(traceContextOf(carrier), fn);
}

/** The trace context set by the innermost `runInTraceContext`, if any. */
export function currentTraceContext(): TraceContext | undefined {
  return incoming.getStore();
}
