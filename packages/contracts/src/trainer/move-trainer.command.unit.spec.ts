import { isWellFormedText, MoveTrainerCommand } from './move-trainer.command';

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
    // Stored as UTF-8 these would be one id with 'x\uFFFD' (and each other).
    [{ trainerId: 'x\ud800' }, 'trainerId'],
    [{ trainerId: 'x\udc00y' }, 'trainerId'],
    // Its stream, `trainer-<id>`, could never be stored (every store refuses a NUL there).
    [{ trainerId: 'a\u0000b' }, 'trainerId'],
  ])('rejects %j naming the field %s', (patch, field) => {
    const result = MoveTrainerCommand.safeParse({ ...valid, ...patch });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual([field]);
  });

  it('tells well-formed text from text with a lone surrogate', () => {
    expect(isWellFormedText('ash 🚀 Zoë')).toBe(true);
    expect(isWellFormedText('x\uFFFD')).toBe(true);
    expect(isWellFormedText('x\ud800')).toBe(false);
    expect(isWellFormedText('\udc00x')).toBe(false);
    expect(isWellFormedText('🚀'.slice(0, 1))).toBe(false);
  });
});
