import { shownValue } from '../config/shown-value';

/** Causes followed at most (a longer chain is cut, saying so). */
const MAX_CAUSES = 10;

/**
 * The chain of `error.cause` below `error`, nearest first. Stops at a cause seen before (a
 * cycle) and after MAX_CAUSES (`truncated`).
 */
function causesOf(error: unknown): { causes: unknown[]; truncated: boolean } {
  const seen = new Set<unknown>([error]);
  const causes: unknown[] = [];
  let current: unknown = error;
  while (current !== null && typeof current === 'object' && 'cause' in current) {
    const cause: unknown = (current as { cause?: unknown }).cause;
    if (cause === undefined || seen.has(cause)) break;
    if (causes.length === MAX_CAUSES) return { causes, truncated: true };
    seen.add(cause);
    causes.push(cause);
    current = cause;
  }
  return { causes, truncated: false };
}

function shown(value: unknown): string {
  if (value instanceof Error) return value.stack ?? `${value.name}: ${value.message}`;
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * The error's stack followed by each of its causes' (`Caused by: <stack>`), as Node prints an
 * error with `util.inspect`. `Error.prototype.stack` leaves the causes out, so a handler's
 * `new Error('could not save order', { cause: driverError })` kept in a dead letter by its stack
 * alone lost the driver's error — the one that says what went wrong. Undefined for a thrown
 * value that is not an Error and has no cause.
 */
export function stackWithCauses(error: unknown): string | undefined {
  const { causes, truncated } = causesOf(error);
  const own = (error as Error | null | undefined)?.stack;
  if (causes.length === 0) return typeof own === 'string' ? own : undefined;
  return [
    typeof own === 'string' ? own : shown(error),
    ...causes.map((cause) => `Caused by: ${shown(cause)}`),
    ...(truncated ? [`(causes after the first ${MAX_CAUSES} left out)`] : []),
  ].join('\n');
}

/**
 * The causes of `error` on one line, for a warning: `; caused by RangeError: E11000 …; caused
 * by …`, or '' when it has none.
 */
export function causesInOneLine(error: unknown): string {
  return causesOf(error)
    .causes.map((cause) => {
      const text =
        cause instanceof Error ? `${cause.name}: ${cause.message}` : shown(cause).split('\n')[0];
      return `; caused by ${text}`;
    })
    .join('');
}

/**
 * What a thrown non-Error says, for a message: a string as it is, an object as JSON (its fields
 * are all it says; `String()` gave "[object Object]").
 */
export function shownThrown(thrown: unknown): string {
  return typeof thrown === 'object' && thrown !== null ? shownValue(thrown) : String(thrown);
}
