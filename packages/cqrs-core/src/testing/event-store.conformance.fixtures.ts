import { randomUUID } from 'node:crypto';
import { ConcurrencyConflictError } from '../event-store/event-store.errors';
import { type ExpectedVersion, type StoredEvent } from '../event-store/event-store.port';
import { type Envelope } from '../messages/envelope';
import { testEnvelope } from './envelope.fixture';

/** A fresh id for streams and event types, so that tests sharing a store never meet. */
export function uniqueName(label: string): string {
  return `${label}-${randomUUID().slice(0, 8)}`;
}

export function event<Data>(
  type: string,
  data: Data,
  metadata: Record<string, unknown> = {},
): Envelope<Data> {
  return testEnvelope(type, data, {
    metadata: { timestamp: new Date().toISOString(), ...metadata },
  });
}

export async function expectConflict(
  attempt: Promise<unknown>,
  facts: { streamId: string; expected: ExpectedVersion; actual: number },
): Promise<void> {
  const error = await attempt.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConcurrencyConflictError);
  const conflict = error as ConcurrencyConflictError;
  expect({
    streamId: conflict.streamId,
    expected: conflict.expected,
    actual: conflict.actual,
  }).toEqual(facts);
}

export async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function versions(events: readonly StoredEvent[]): number[] {
  return events.map((e) => e.version);
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

export function expectStrictlyIncreasing(positions: readonly number[]): void {
  for (let i = 1; i < positions.length; i++) {
    if (!((positions[i] ?? 0) > (positions[i - 1] ?? 0))) {
      throw new Error(
        `positions not strictly increasing at index ${i}: ${positions[i - 1]} then ${positions[i]}`,
      );
    }
  }
}
