import { type ProgressEvent, progressEventId } from './progress.event';
import {
  acceptedProgressStatus,
  evolveProgressStatus,
  isFinished,
  ProgressStatus,
  progressStatusOf,
} from './progress.status';

function event(
  step: number,
  eventType: ProgressEvent['eventType'],
  percentage: number,
  stepName: string,
  second: number,
  reason?: string,
): ProgressEvent {
  return {
    eventId: progressEventId('t-1', step, eventType),
    taskId: 't-1',
    userId: 'ash',
    currentStep: step,
    totalSteps: 4,
    percentage,
    stepName,
    eventType,
    timestamp: `2026-11-25T10:00:0${second}.000Z`,
    ...(reason !== undefined && { reason }),
  };
}

describe('progressStatusOf (S3-3: state rebuilt by replay)', () => {
  it('is undefined for a task with no events', () => {
    expect(progressStatusOf([])).toBeUndefined();
  });

  it('folds a task that stopped at 75 % into the state a reconnecting client is shown', () => {
    const status = progressStatusOf([
      event(0, 'STARTED', 0, 'started', 0),
      event(1, 'PROGRESS', 25, 'validate order', 1),
      event(2, 'PROGRESS', 50, 'check stock', 2),
      event(3, 'PROGRESS', 75, 'process payment', 3),
    ]);
    expect(status).toEqual({
      taskId: 't-1',
      userId: 'ash',
      currentStep: 3,
      totalSteps: 4,
      percentage: 75,
      stepName: 'process payment',
      status: 'PROGRESS',
      startedAt: '2026-11-25T10:00:00.000Z',
      updatedAt: '2026-11-25T10:00:03.000Z',
      eventCount: 4,
      lastEventId: 't-1:3:PROGRESS',
    });
    expect(isFinished(status!)).toBe(false);
  });

  it('keeps the reason of a failed step and counts the task finished', () => {
    const status = progressStatusOf([
      event(0, 'STARTED', 0, 'started', 0),
      event(1, 'PROGRESS', 25, 'validate order', 1),
      event(2, 'FAILED', 25, 'check stock', 2, 'not enough stock of sku-1'),
    ]);
    expect(status).toMatchObject({
      status: 'FAILED',
      percentage: 25,
      currentStep: 2,
      reason: 'not enough stock of sku-1',
      eventCount: 3,
    });
    expect(isFinished(status!)).toBe(true);
  });
});

describe('acceptedProgressStatus (a task accepted, its steps not begun)', () => {
  const accepted = acceptedProgressStatus({
    taskId: 't-1',
    userId: 'ash',
    placedAt: '2026-11-25T09:59:59.000Z',
  });

  it('is a valid status at 0 %, ACCEPTED, folded from no event and not finished', () => {
    expect(ProgressStatus.parse(accepted)).toEqual({
      taskId: 't-1',
      userId: 'ash',
      currentStep: 0,
      totalSteps: 4,
      percentage: 0,
      stepName: 'accepted',
      status: 'ACCEPTED',
      startedAt: '2026-11-25T09:59:59.000Z',
      updatedAt: '2026-11-25T09:59:59.000Z',
      eventCount: 0,
    });
    expect(isFinished(accepted)).toBe(false);
  });

  it('gives way to the first event as if the task had no state: startedAt is the STARTED one', () => {
    const started = event(0, 'STARTED', 0, 'started', 0);
    expect(evolveProgressStatus(accepted, started)).toEqual(progressStatusOf([started]));
  });
});
