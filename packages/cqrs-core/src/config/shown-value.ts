/**
 * A value as an error message shows it: strings quoted, so '1' and 1 differ; bigints with their
 * `n`; arrays and plain objects as JSON when they have a JSON form. Shared by the event-store,
 * checkpoint, dead-letter and duration rules.
 */
export function shownValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'object' && value !== null) {
    try {
      const json = JSON.stringify(value);
      if (json !== undefined) return json;
    } catch {
      // Cyclic: fall back to String().
    }
  }
  return String(value);
}
