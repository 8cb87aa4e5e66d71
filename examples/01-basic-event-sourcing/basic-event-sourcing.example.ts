import {
  ConcurrencyConflictError,
  commandHandler,
  decideEvents,
  deciderRepository,
  retryOnConflict,
} from '@causeway/cqrs-core';
import { openBackend } from '../shared/example.backend';
import { type ExampleOptions, type ExampleReport } from '../shared/example.options';
import { Transcript } from '../shared/example.transcript';
import { type AccountCommand, InsufficientFundsError, account } from './account.decider';
import { accountSerializer } from './account.events';

export interface BasicEventSourcingReport extends ExampleReport {
  /** The stream as stored: `v<version> <type> <data>`. */
  readonly stored: readonly string[];
  /** The state a fresh load folds from the stream at the end. */
  readonly balance: number;
  readonly version: number;
  /** The save that lost the race without retry: what it expected and what it found. */
  readonly conflict: { expected: number | string; actual: number | string };
  /** The read -> decide -> append cycles retryOnConflict needed for the withdrawal that met a conflict. */
  readonly attempts: number;
}

/**
 * Commands -> events -> event store -> reload -> state, for one bank account; then two tellers
 * writing at once: the loser's save is refused (ConcurrencyConflictError), and retryOnConflict
 * redoes the whole cycle on the fresh state.
 */
export async function run(options: ExampleOptions = {}): Promise<BasicEventSourcingReport> {
  const out = new Transcript(options.print);
  const backend = await openBackend('01-basic', options);
  try {
    out.step(`1. Event store: ${backend.kind} (${backend.where})`);
    const eventStore = await backend.eventStore({ serializer: accountSerializer() });
    const id = 'account-ada';

    // commandHandler: load the stream, fold it, decide, append at the version it loaded.
    const handle = commandHandler(eventStore, account, { aggregateType: 'Account' });
    const commands: AccountCommand[] = [
      { type: 'OpenAccount', data: { owner: 'ada' } },
      { type: 'Deposit', data: { amount: 100 } },
      { type: 'Withdraw', data: { amount: 30 } },
    ];
    out.step('2. Commands become events:');
    for (const command of commands) {
      const result = await handle(id, command);
      const events = result.newEvents.map((e) => `${e.type} ${JSON.stringify(e.data)}`);
      out.step(`   ${command.type} ${JSON.stringify(command.data)} -> ${events.join(', ')}`);
    }

    const stored = (await eventStore.readStream(id)).map(
      (e) => `v${e.version} ${e.type} ${JSON.stringify(e.data)}`,
    );
    out.step(`3. The stream ${id} as stored:`);
    for (const line of stored) out.step(`   ${line}`);

    const repository = deciderRepository(account, { eventStore, aggregateType: 'Account' });
    const reloaded = await repository.load(id);
    out.step(
      `4. Reloaded: ${JSON.stringify(reloaded.state)} at version ${reloaded.version} ` +
        `(${reloaded.replayedEvents} events replayed)`,
    );

    try {
      await handle(id, { type: 'Withdraw', data: { amount: 500 } });
    } catch (error) {
      if (!(error instanceof InsufficientFundsError)) throw error;
      const info = await eventStore.streamInfo(id);
      out.step(`5. Withdraw 500 refused: ${error.message}; the stream stays at v${info?.version}`);
    }

    // Two tellers load the same version; the first save wins, the second is refused.
    const tellerA = await repository.load(id);
    const tellerB = await repository.load(id);
    await repository.save(tellerA, decideEvents(account, deposit(10), tellerA.state));
    let conflict: ConcurrencyConflictError | undefined;
    try {
      await repository.save(tellerB, decideEvents(account, deposit(5), tellerB.state));
    } catch (error) {
      if (!(error instanceof ConcurrencyConflictError)) throw error;
      conflict = error;
    }
    if (!conflict) throw new Error('the second teller was expected to conflict');
    out.step(
      `6. Teller A deposited 10; teller B, who loaded v${tellerB.version} too, is refused: ` +
        `ConcurrencyConflictError (expected v${conflict.expected}, stream at v${conflict.actual}); nothing written`,
    );

    // retryOnConflict redoes load -> decide -> save; retrying the save alone would lose an update.
    let raced = false;
    let attempts = 0;
    await retryOnConflict(
      async (attempt) => {
        attempts = attempt;
        const loaded = await repository.load(id);
        if (!raced) {
          raced = true; // someone writes between this teller's load and save, once
          const other = await repository.load(id);
          await repository.save(other, decideEvents(account, deposit(15), other.state));
        }
        return repository.save(loaded, decideEvents(account, withdraw(20), loaded.state));
      },
      {
        onRetry: ({ error }) =>
          out.step(
            `   conflict at v${error.expected} (stream at v${error.actual}): load again, decide again`,
          ),
      },
    );
    out.step(`7. Withdraw 20 while a deposit of 15 raced it: done in ${attempts} attempts`);

    const final = await repository.load(id);
    out.step(`8. Final state: balance ${final.state.balance} at version ${final.version}`);
    return {
      store: backend.kind,
      lines: out.lines,
      stored,
      balance: final.state.balance,
      version: final.version,
      conflict: { expected: conflict.expected, actual: conflict.actual },
      attempts,
    };
  } finally {
    await backend.close();
  }
}

const deposit = (amount: number): AccountCommand => ({ type: 'Deposit', data: { amount } });
const withdraw = (amount: number): AccountCommand => ({ type: 'Withdraw', data: { amount } });
