import { topicNaming, withCommandTopics } from './topic.naming';

describe('topicNaming', () => {
  it('names a topic per command type by default', () => {
    const naming = topicNaming('p.');
    expect(naming.command('MoveTrainerCommand')).toBe('p.commands.MoveTrainerCommand');
    expect(naming.commandTopicName?.('MoveTrainerCommand')).toBe('MoveTrainerCommand');
    expect(naming.event('TrainerMovedEvent')).toBe('p.events.TrainerMovedEvent');
    expect(naming.deadLetter('p.commands.X')).toBe('p.dead-letters.commands.X');
    expect(naming.reply('api-1')).toBe('p.replies.api-1');
  });

  it('sends the command types of commandTopics to the topic they share, the others to their own', () => {
    const naming = topicNaming('p.', {
      commandTopics: { MoveTrainerCommand: 'Trainer', ChangeGroupCommand: 'Trainer' },
    });
    expect(naming.command('MoveTrainerCommand')).toBe('p.commands.Trainer');
    expect(naming.command('ChangeGroupCommand')).toBe('p.commands.Trainer');
    expect(naming.command('PlaceOrderCommand')).toBe('p.commands.PlaceOrderCommand');
    expect(naming.commandTopicName?.('ChangeGroupCommand')).toBe('Trainer');
    expect(naming.commandTopicName?.('PlaceOrderCommand')).toBe('PlaceOrderCommand');
    expect(naming.ownCommandTopic?.('MoveTrainerCommand')).toBe('p.commands.MoveTrainerCommand');
    expect(naming.event('TrainerMovedEvent')).toBe('p.events.TrainerMovedEvent');
  });

  it('adds shared topics to a naming built elsewhere, keeping its own mapping', () => {
    const naming = withCommandTopics(topicNaming('p.', { commandTopics: { A: 'Orders' } }), {
      B: 'Trainer',
    });
    expect(naming.command('A')).toBe('p.commands.Orders');
    expect(naming.command('B')).toBe('p.commands.Trainer');
    expect(naming.commandTopicName?.('A')).toBe('Orders');
    expect(naming.ownCommandTopic?.('B')).toBe('p.commands.B');
  });

  it('refuses a shared topic name topics cannot have, or one that is a type mapped elsewhere', () => {
    expect(() => topicNaming('', { commandTopics: { A: 'has space' } })).toThrow(
      'the topic of command A, "has space", may contain only letters, digits, ".", "_" and "-"',
    );
    expect(() => topicNaming('', { commandTopics: { A: '' } })).toThrow(/command A/);
    expect(() => topicNaming('', { commandTopics: { A: 'B', B: 'C' } })).toThrow(
      'command A shares topic B, which is also a command type mapped to topic C',
    );
    // A type may name the topic it shares with others.
    expect(topicNaming('', { commandTopics: { A: 'A', B: 'A' } }).command('B')).toBe('commands.A');
  });

  it('sends the event types of eventTopics to the topic they share, and checks the names alike', () => {
    const naming = topicNaming('p.', {
      eventTopics: { Deposited: 'Account', Withdrawn: 'Account' },
      commandTopics: { Deposit: 'Account' },
    });
    expect(naming.event('Deposited')).toBe('p.events.Account');
    expect(naming.event('Withdrawn')).toBe('p.events.Account');
    expect(naming.event('Opened')).toBe('p.events.Opened');
    expect(naming.command('Deposit')).toBe('p.commands.Account');
    expect(() => topicNaming('', { eventTopics: { A: 'a/b' } })).toThrow(
      'the topic of event A, "a/b", may contain only letters, digits, ".", "_" and "-"',
    );
    expect(() => topicNaming('', { eventTopics: { A: 'B', B: 'C' } })).toThrow(
      'event A shares topic B, which is also an event type mapped to topic C',
    );
  });
});
