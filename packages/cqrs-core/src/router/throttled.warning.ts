/**
 * A process warning (`process.on('warning')`; services built with `bootstrapService` log it as
 * JSON) emitted for the first event of each key, then at most once per `quietMs` per key, the
 * next one saying how many it left out. For reports that a failing dependency can repeat
 * thousands of times a second.
 */
export function throttledWarning(options: {
  type: string;
  code: string;
  quietMs?: number;
}): (key: string, message: string) => void {
  const quietMs = options.quietMs ?? 10_000;
  const quiet = new Map<string, { until: number; left: number }>();
  return (key, message) => {
    const now = Date.now();
    const last = quiet.get(key);
    if (last && now < last.until) {
      last.left++;
      return;
    }
    quiet.set(key, { until: now + quietMs, left: 0 });
    const left = last?.left ? ` (${last.left} more not reported in the last ${quietMs} ms)` : '';
    process.emitWarning(`${message}${left}`, { type: options.type, code: options.code });
  };
}
