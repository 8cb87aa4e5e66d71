import { CommandBacklogError } from '../errors/command-api.errors';
import { CommandBacklog } from './command.backlog';

const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A backlog whose measurements are `waiting` (or throw `failure`), counting them. */
function backlogOver(max: number) {
  const state = { waiting: 0 as number | undefined, failure: undefined as Error | undefined };
  const measured: string[] = [];
  const warnings: string[] = [];
  const backlog = new CommandBacklog({
    max,
    refreshMs: 1_000,
    measure: async (topic, group) => {
      measured.push(`${topic}/${group}`);
      if (state.failure) throw state.failure;
      return state.waiting;
    },
    onError: (message) => warnings.push(message),
  });
  return { backlog, state, measured, warnings };
}

describe('CommandBacklog', () => {
  it('admits until a measurement shows more than max waiting, then refuses naming the backlog', async () => {
    const { backlog, state, measured } = backlogOver(3);
    state.waiting = 4;
    const t = Date.now();
    // No measurement yet: admitted, and the first one starts.
    expect(() => backlog.admit('commands.Trainer', 'commands.Trainer', t)).not.toThrow();
    await settle();
    let error: unknown;
    try {
      backlog.admit('commands.Trainer', 'commands.Trainer', t + 10);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CommandBacklogError);
    expect(error).toMatchObject({ waiting: 4, max: 3, retryAfterSeconds: 5 });
    // Other topics are judged on their own measurements.
    expect(() => backlog.admit('commands.Other', 'commands.Other', t + 10)).not.toThrow();
    // At most one measurement per topic per refreshMs: the requests in between use the last.
    expect(measured).toEqual([
      'commands.Trainer/commands.Trainer',
      'commands.Other/commands.Other',
    ]);
    state.waiting = 3;
    expect(() => backlog.admit('commands.Trainer', 'commands.Trainer', Date.now() + 1_000)).toThrow(
      CommandBacklogError,
    );
    await settle();
    expect(() =>
      backlog.admit('commands.Trainer', 'commands.Trainer', Date.now() + 1_001),
    ).not.toThrow();
  });

  it('admits on a measurement older than two refreshes (no traffic since), and measures again', async () => {
    const { backlog, state, measured } = backlogOver(3);
    state.waiting = 100;
    backlog.admit('t', 'g');
    await settle();
    expect(() => backlog.admit('t', 'g')).toThrow(CommandBacklogError);
    expect(() => backlog.admit('t', 'g', Date.now() + 2_001)).not.toThrow();
    expect(measured).toHaveLength(2);
  });

  it('admits while nobody handles the topic yet, or while the backlog cannot be measured (warned once)', async () => {
    const { backlog, state, warnings } = backlogOver(3);
    state.waiting = undefined;
    backlog.admit('t', 'g');
    await settle();
    expect(() => backlog.admit('t', 'g')).not.toThrow();
    state.failure = new Error('Redis is down');
    for (let i = 1; i <= 3; i++) {
      backlog.admit('t', 'g', Date.now() + i * 1_000);
      await settle();
      expect(() => backlog.admit('t', 'g', Date.now() + i * 1_000)).not.toThrow();
    }
    expect(warnings).toEqual([
      'the backlog of t could not be measured (Redis is down); commands are admitted until it can',
    ]);
  });

  it('refuses a max that is not a positive integer', () => {
    for (const max of [0, -1, 1.5, Number.NaN])
      expect(() => new CommandBacklog({ max, measure: async () => 0 })).toThrow(
        `max must be a positive integer, got ${max}`,
      );
  });
});
