import 'reflect-metadata';
import { z } from 'zod';
import { MessageFactory } from '../messages/message.factory';
import {
  type EnvelopeOf,
  type MessageResult,
  type MessageResultInput,
  messageType,
} from '../messages/message.type';
import { COMMAND_HANDLER, CommandHandler, type ICommandHandler } from '../nest/handler.decorators';
import { type CommandBus } from './command-bus';

// Compile-time checks of declared command results, run by the typecheck script (tsc includes
// the spec files): an unused `@ts-expect-error` fails it, i.e. when a wrong handler compiles.
const Deposit = messageType('Deposit', z.object({ amount: z.number() }), {
  result: z.object({ balance: z.number() }),
});
const Withdraw = messageType('Withdraw', z.object({ amount: z.number() }));
const Tag = messageType('Tag', z.object({ id: z.string() }), {
  result: z.object({ tags: z.string().transform((csv) => csv.split(',')) }),
});
const Close = messageType('Close', z.object({ id: z.string() }), {
  result: z.object({ closed: z.boolean() }),
});
const messages = new MessageFactory();

declare const commands: CommandBus;

// Functions never called: the checks are the compiler's.
const refused = [
  // @ts-expect-error the handler must answer { balance: number }
  () => commands.handle(Deposit, () => ({ balance: 'many' })),
  // With an explicit data generic (as handlers by name are written) no overload takes a message
  // type: the wrong answer does not slip through one whose types fell back to their default.
  // @ts-expect-error write no generic with message types
  () => commands.handle<{ amount: number }>(Deposit, () => ({ balance: 'many' })),
  // A list with a type that declares no result: the answer must fit the declared ones.
  // @ts-expect-error a Deposit must be answered with { balance: number }
  () => commands.handle([Deposit, Withdraw], () => 'a string'),
  // Names mixed in: their results are known at run time only, the declared ones still count.
  // @ts-expect-error a Deposit must be answered with { balance: number }
  () => commands.handle(['Other', Deposit], () => 'a string'),
  // The handler answers the schema's input (a comma-separated string), not its output.
  // @ts-expect-error Tag's handler answers { tags: string }
  () => commands.handle(Tag, () => ({ tags: ['a', 'b'] })),
];

const accepted = [
  () => commands.handle(Tag, () => ({ tags: 'a,b' })),
  // One answer for several types: the union of the results they declare.
  () =>
    commands.handle([Deposit, Close], (command) =>
      command.type === 'Deposit' ? { balance: command.data.amount } : { closed: true },
    ),
  // A Withdraw (no result declared) answers within the declared union too.
  () => commands.handle([Deposit, Withdraw], (command) => ({ balance: command.data.amount })),
  // None declares one: anything.
  () => commands.handle(Withdraw, () => 'anything'),
  () => commands.handle<{ amount: number }>('Deposit', (command) => command.data.amount),
  () => commands.handle(['Deposit', Withdraw], () => 'anything'),
];

// The request resolves to the output type; the handler answers the input type.
const requested: () => Promise<string[]> = async () =>
  (await commands.request(messages.command(Tag, { id: '1' }))).tags;
const answer: MessageResultInput<typeof Tag> = { tags: 'a,b' };
const output: MessageResult<typeof Tag> = { tags: ['a', 'b'] };
const union: MessageResultInput<typeof Deposit | typeof Withdraw> = { balance: 1 };
// @ts-expect-error the union of the declared results only
const notInUnion: MessageResultInput<typeof Deposit | typeof Withdraw> = 'a string';

// @ts-expect-error execute must answer { balance: number }
@CommandHandler(Deposit)
class WrongDeposit implements ICommandHandler<EnvelopeOf<typeof Deposit>> {
  execute() {
    return { balance: 'many' };
  }
}

// @ts-expect-error execute must answer { balance: number } for a Deposit
@CommandHandler([Deposit, Withdraw])
class WrongList implements ICommandHandler<EnvelopeOf<typeof Deposit | typeof Withdraw>> {
  execute() {
    return 'a string';
  }
}

// @ts-expect-error names mixed in: execute must still answer { balance: number }
@CommandHandler(['Other', Deposit])
class WrongMixed {
  execute() {
    return 'a string';
  }
}

@CommandHandler([Deposit, Withdraw])
class RightList implements ICommandHandler<EnvelopeOf<typeof Deposit | typeof Withdraw>> {
  execute(command: EnvelopeOf<typeof Deposit | typeof Withdraw>) {
    return { balance: command.data.amount };
  }
}

@CommandHandler(Tag)
class TagHandler implements ICommandHandler<
  EnvelopeOf<typeof Tag>,
  MessageResultInput<typeof Tag>
> {
  execute() {
    return { tags: 'a,b' };
  }
}

describe('declared command results at compile time (see the typecheck)', () => {
  it('refuses wrong answers and accepts right ones', () => {
    expect(refused).toHaveLength(5);
    expect(accepted).toHaveLength(6);
    expect([requested, answer, output, union, notInUnion]).toHaveLength(5);
    // The decorators still record the types' names: the checks are the compiler's only.
    expect(Reflect.getMetadata(COMMAND_HANDLER, WrongDeposit)).toEqual(['Deposit']);
    expect(Reflect.getMetadata(COMMAND_HANDLER, WrongList)).toEqual(['Deposit', 'Withdraw']);
    expect(Reflect.getMetadata(COMMAND_HANDLER, WrongMixed)).toEqual(['Other', 'Deposit']);
    expect(Reflect.getMetadata(COMMAND_HANDLER, RightList)).toEqual(['Deposit', 'Withdraw']);
    expect(Reflect.getMetadata(COMMAND_HANDLER, TagHandler)).toEqual(['Tag']);
  });
});
