import { ProjectionRunner, commandHandler } from '@causeway/cqrs-core';
import { type AccountCommand, account } from '../01-basic-event-sourcing/account.decider';
import { accountSerializer } from '../01-basic-event-sourcing/account.events';
import { openBackend } from '../shared/example.backend';
import { type ExampleOptions, type ExampleReport } from '../shared/example.options';
import { Transcript } from '../shared/example.transcript';
import { type BalanceRow, BalancesReadModel } from './balances.read-model';

export interface ReadModelsReport extends ExampleReport {
  /** The read model once the runner caught up with the history written before it started. */
  readonly caughtUp: Readonly<Record<string, BalanceRow>>;
  /** What a query right after the live command's waitFor read: the command's effect. */
  readonly afterLiveWrite: BalanceRow | undefined;
  /** The checkpoint the runner saved on stop: where a restart resumes. */
  readonly checkpoint: number;
  /** The live command's last event's position in the global log. */
  readonly livePosition: number;
}

/**
 * A read model built by a projection from the event store's global log: the ProjectionRunner
 * catches up with the history, then follows new events; `waitFor(position)` lets a query right
 * after a command read its own write.
 */
export async function run(options: ExampleOptions = {}): Promise<ReadModelsReport> {
  const out = new Transcript(options.print);
  const backend = await openBackend('04-read-models', options);
  try {
    out.step(`1. Event store and checkpoints: ${backend.kind} (${backend.where})`);
    const eventStore = await backend.eventStore({ serializer: accountSerializer() });
    const handle = commandHandler(eventStore, account, { aggregateType: 'Account' });
    const send = (id: string, command: AccountCommand) => handle(`account-${id}`, command);

    // History written before any read model exists.
    for (const [owner, amount] of [
      ['ada', 100],
      ['grace', 250],
      ['linus', 40],
    ] as const) {
      await send(owner, { type: 'OpenAccount', data: { owner } });
      await send(owner, { type: 'Deposit', data: { amount } });
    }
    await send('ada', { type: 'Withdraw', data: { amount: 30 } });
    out.step('2. History: 3 accounts opened, 3 deposits, 1 withdrawal (7 events)');

    const balances = new BalancesReadModel();
    const checkpoints = backend.checkpointStore();
    const runner = new ProjectionRunner({
      eventStore,
      checkpoints,
      pollIntervalMs: 20, // how soon a live event is seen once caught up (default 100 ms)
      onError: (error, name) => out.step(`   projection ${name} failed, retrying: ${error}`),
    });
    let stopped = false;
    try {
      runner.start(balances.projection);
      await runner.whenCaughtUp();
      const caughtUp = Object.fromEntries(balances.all());
      out.step('3. Caught up with the log:');
      for (const [id, row] of balances.all())
        out.step(`   ${id}: ${row.owner} ${row.balance} (v${row.version})`);

      // Live: the runner follows the log; a query waits for the command's last position.
      const result = await send('grace', { type: 'Withdraw', data: { amount: 50 } });
      const livePosition = result.positions.at(-1)!;
      await runner.waitFor(livePosition, { timeoutMs: 10_000 });
      const afterLiveWrite = balances.get('account-grace');
      out.step(
        `4. Live: grace withdraws 50 (event at position ${livePosition}); after waitFor the ` +
          `query reads ${afterLiveWrite?.balance}`,
      );

      const [status] = runner.status();
      out.step(
        `5. Status: ${status?.name} at position ${status?.position}, ${status?.applied} applied`,
      );
      await runner.stop(); // saves the checkpoint
      stopped = true;
      const checkpoint = await checkpoints.load('balances');
      // The checkpoint says the read model holds every event up to it: keep both in one place.
      // This Map dies with the process; behind a checkpoint on a server it would come back
      // empty and be resumed past the events it lost (a read model in memory takes an
      // InMemoryCheckpointStore, and catches up from 0 at each start).
      out.step(
        `6. Stopped; checkpoint saved at ${checkpoint}: a restart resumes after it, so a read ` +
          "model must last as long as its checkpoint (this Map dies with the process: a real one lives in the checkpoint's database)",
      );
      return {
        store: backend.kind,
        lines: out.lines,
        caughtUp,
        afterLiveWrite,
        checkpoint,
        livePosition,
      };
    } finally {
      if (!stopped) await runner.stop();
    }
  } finally {
    await backend.close();
  }
}
