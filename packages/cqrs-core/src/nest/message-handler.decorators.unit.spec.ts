import 'reflect-metadata';
import { z } from 'zod';
import { type EnvelopeOf, type MessageResult, messageType } from '../messages/message.type';
import { type Envelope } from '../messages/envelope';
import {
  COMMAND_HANDLER,
  CommandHandler,
  EVENT_HANDLER,
  EventHandler,
  type ICommandHandler,
  type IEventHandler,
} from './handler.decorators';

// Type-level checks: tsc (the typecheck script, which includes the spec files) fails when a
// `@ts-expect-error` below has no error to expect, i.e. when a mismatched handler compiles.
const Deposit = messageType('Deposit', z.object({ amount: z.number() }));
const Deposited = messageType('Deposited', z.object({ amount: z.number() }));
const Withdrawn = messageType('Withdrawn', z.object({ amount: z.number(), reason: z.string() }));
const Renamed = messageType('Renamed', z.object({ name: z.string() }));
const Open = messageType('Open', z.object({ owner: z.string() }), {
  result: z.object({ accountId: z.string() }),
});

@CommandHandler(Deposit)
class DepositHandler implements ICommandHandler<EnvelopeOf<typeof Deposit>, number> {
  execute(command: EnvelopeOf<typeof Deposit>): number {
    return command.data.amount;
  }
}

// @ts-expect-error the class takes Renamed envelopes, the decorator routes Deposit commands to it
@CommandHandler(Deposit)
class WrongCommand implements ICommandHandler<EnvelopeOf<typeof Renamed>> {
  execute(command: EnvelopeOf<typeof Renamed>): string {
    return command.data.name;
  }
}

@CommandHandler(Open)
class OpenHandler implements ICommandHandler<EnvelopeOf<typeof Open>, MessageResult<typeof Open>> {
  execute(command: EnvelopeOf<typeof Open>): { accountId: string } {
    return { accountId: command.data.owner };
  }
}

// @ts-expect-error Open declares its result { accountId: string }; the class answers a number
@CommandHandler(Open)
class WrongResult implements ICommandHandler<EnvelopeOf<typeof Open>, number> {
  execute(): number {
    return 1;
  }
}

@EventHandler([Deposited, Withdrawn], { name: 'ledger' })
class Ledger implements IEventHandler<EnvelopeOf<typeof Deposited | typeof Withdrawn>> {
  handle(event: EnvelopeOf<typeof Deposited | typeof Withdrawn>): string {
    return event.type === 'Withdrawn' ? event.data.reason : String(event.data.amount);
  }
}

// @ts-expect-error the class takes Renamed envelopes, the decorator routes Deposited events to it
@EventHandler(Deposited, { name: 'wrong' })
class WrongEvent implements IEventHandler<EnvelopeOf<typeof Renamed>> {
  handle(event: EnvelopeOf<typeof Renamed>): string {
    return event.data.name;
  }
}

// By name, or names mixed with message types, nothing is checked: these keep compiling.
@CommandHandler(['Deposit', Renamed])
class ByName implements ICommandHandler<Envelope<{ anything: true }>> {
  execute(): void {}
}
@EventHandler('Deposited', { name: 'by-name' })
class EventByName implements IEventHandler<Envelope<{ anything: true }>> {
  handle(): void {}
}

describe('@CommandHandler / @EventHandler with message types', () => {
  it('record the type names, as with names', () => {
    expect(Reflect.getMetadata(COMMAND_HANDLER, DepositHandler)).toEqual(['Deposit']);
    expect(Reflect.getMetadata(COMMAND_HANDLER, WrongCommand)).toEqual(['Deposit']);
    expect(Reflect.getMetadata(COMMAND_HANDLER, ByName)).toEqual(['Deposit', 'Renamed']);
    expect(Reflect.getMetadata(COMMAND_HANDLER, OpenHandler)).toEqual(['Open']);
    expect(Reflect.getMetadata(COMMAND_HANDLER, WrongResult)).toEqual(['Open']);
    expect(Reflect.getMetadata(EVENT_HANDLER, Ledger)).toEqual({
      name: 'ledger',
      types: ['Deposited', 'Withdrawn'],
    });
    expect(Reflect.getMetadata(EVENT_HANDLER, WrongEvent).types).toEqual(['Deposited']);
    expect(Reflect.getMetadata(EVENT_HANDLER, EventByName).types).toEqual(['Deposited']);
  });
});
