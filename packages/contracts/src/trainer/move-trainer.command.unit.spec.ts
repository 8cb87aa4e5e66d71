import { MoveTrainerCommand } from './move-trainer.command';

describe('MoveTrainerCommand schema', () => {
  const valid = {
    trainerId: 'ash',
    directionX: 1,
    directionY: 0,
    action: 'start',
    timestamp: 1_700_000_000_000,
  };

  it('accepts a well-formed command', () => {
    expect(MoveTrainerCommand.parse(valid)).toEqual(valid);
  });

  it.each([
    [{ directionX: Number.POSITIVE_INFINITY }, 'directionX'],
    [{ directionY: Number.NaN }, 'directionY'],
    [{ action: 'jump' }, 'action'],
    [{ trainerId: '' }, 'trainerId'],
  ])('rejects %j naming the field %s', (patch, field) => {
    const result = MoveTrainerCommand.safeParse({ ...valid, ...patch });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual([field]);
  });
});
