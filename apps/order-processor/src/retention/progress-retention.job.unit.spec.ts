import { contractsSerializer, type ProgressEvent } from '@causeway/contracts';
import { createMessage, InMemoryEventStore, StreamDeletedError } from '@causeway/cqrs-core';
import { ProgressRetentionJob } from './progress-retention.job';
import { InMemoryTaskExpiries } from './task-expiries';

const DAY = 86_400_000;
const NOW = Date.parse('2026-11-25T12:00:00.000Z');

function event(taskId: string, step: number, at: number): ProgressEvent {
  return {
    eventId: `${taskId}:${step}:PROGRESS`,
    taskId,
    userId: 'ash',
    currentStep: step,
    totalSteps: 4,
    percentage: step * 25,
    stepName: 'check stock',
    eventType: 'PROGRESS',
    timestamp: new Date(at).toISOString(),
  };
}

async function store(
  events: ProgressEvent[],
  into: InMemoryEventStore,
  expiries: InMemoryTaskExpiries,
) {
  for (const e of events) {
    await into.append(
      `progress-${e.taskId}`,
      [
        createMessage({
          type: 'ProgressEvent',
          data: e,
          category: 'event',
          aggregateId: e.taskId,
          messageId: e.eventId,
        }),
      ],
      { expectedVersion: 'any' },
    );
    await expiries.touch(e.taskId, Date.parse(e.timestamp));
  }
}

describe('ProgressRetentionJob (S3-7)', () => {
  it('hard-deletes the streams whose last event is older than the TTL, whole, and keeps the others', async () => {
    const events = new InMemoryEventStore({ serializer: contractsSerializer() });
    const expiries = new InMemoryTaskExpiries();
    await store(
      [
        event('old', 1, NOW - DAY - 60_000),
        event('old', 2, NOW - DAY - 1),
        // Started more than a day ago, last step within it: kept, STARTED and all.
        event('straddles', 1, NOW - DAY - 5),
        event('straddles', 2, NOW - DAY + 5),
        event('young', 1, NOW - 1_000),
      ],
      events,
      expiries,
    );
    const job = new ProgressRetentionJob({ store: events, expiries, ttlMs: DAY, now: () => NOW });
    expect(await job.runOnce()).toBe(1);
    expect(await events.readStream('progress-old')).toEqual([]);
    expect(await events.readStream('progress-straddles')).toHaveLength(2);
    expect(await events.readStream('progress-young')).toHaveLength(1);
    // Tombstoned: a redelivered order of the expired task cannot write its history again.
    await expect(
      events.append(
        'progress-old',
        [
          createMessage({
            type: 'ProgressEvent',
            data: event('old', 3, NOW),
            category: 'event',
            aggregateId: 'old',
          }),
        ],
        {
          expectedVersion: 'any',
        },
      ),
    ).rejects.toBeInstanceOf(StreamDeletedError);
    expect(await expiries.due(NOW, 10)).toEqual(['straddles', 'young']);
    await job.stop();
  });

  it('moves a task forward instead of deleting it when its stream has a newer event than the index knew', async () => {
    const events = new InMemoryEventStore({ serializer: contractsSerializer() });
    const expiries = new InMemoryTaskExpiries();
    await store([event('t', 1, NOW - 2 * DAY)], events, expiries);
    // Stored by another instance whose index write was lost.
    await events.append(
      'progress-t',
      [
        createMessage({
          type: 'ProgressEvent',
          data: event('t', 2, NOW - 10),
          category: 'event',
          aggregateId: 't',
          messageId: 't:2:PROGRESS',
        }),
      ],
      { expectedVersion: 1 },
    );
    const job = new ProgressRetentionJob({ store: events, expiries, ttlMs: DAY, now: () => NOW });
    expect(await job.runOnce()).toBe(0);
    expect(await events.readStream('progress-t')).toHaveLength(2);
    expect(await expiries.due(NOW - DAY, 10)).toEqual([]);
  });
});
