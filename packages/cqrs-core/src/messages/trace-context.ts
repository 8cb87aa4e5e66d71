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
  /^(?!ff)([0-9a-f]{2})-((?!0{32})[0-9a-f]{32})-((?!0{16})[0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
/** Longest traceparent read (a later version's extra fields are dropped anyway). */
const MAX_TRACEPARENT = 256;
/** tracestate: at most 512 characters (the spec's limit), printable ASCII only. */
const TRACESTATE = /^[\x20-\x7e]{1,512}$/;

/**
 * Whether `value` is a valid `traceparent` (W3C Trace Context, level 1): version 00 exactly,
 * or a later version whose first four fields parse as version 00's.
 */
export function isTraceparent(value: unknown): value is string {
  return parseTraceparent(value) !== undefined;
}

/**
 * `value` as a version-00 `traceparent`, undefined when it is not a valid one. A later
 * version is read by its first four fields and passed on as 00, as the spec asks of a
 * participant that does not know that version: what travels in messages is bounded and known.
 */
function parseTraceparent(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > MAX_TRACEPARENT) return undefined;
  const match = TRACEPARENT.exec(value);
  if (!match) return undefined;
  const [, version, traceId, parentId, flags, rest] = match;
  if (version === '00' && rest !== undefined) return undefined;
  return `00-${traceId}-${parentId}-${flags}`;
}

/**
 * The trace context in `carrier` (message metadata, HTTP headers): `traceparent` if it is
 * valid (as version 00), with `tracestate` if present, printable ASCII and at most 512
 * characters; undefined otherwise (an invalid `traceparent` is ignored, as the spec asks, and a
 * new trace starts). Header values that came as arrays are joined as HTTP joins them (`, `).
 */
export function traceContextOf(
  carrier: Readonly<Record<string, unknown>> | undefined,
): TraceContext | undefined {
  const traceparent = parseTraceparent(first(carrier?.traceparent));
  if (traceparent === undefined) return undefined;
  const state = carrier?.tracestate;
  const tracestate = Array.isArray(state) ? state.join(',') : state;
  return typeof tracestate === 'string' && TRACESTATE.test(tracestate)
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
