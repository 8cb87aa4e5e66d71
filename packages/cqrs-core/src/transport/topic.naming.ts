/**
 * Topic names per message type (S0-2): `<prefix>commands.<Type>`, `<prefix>events.<Type>`;
 * types may share a topic (`<prefix>commands.<Topic>`, `<prefix>events.<Topic>`, see
 * TopicNamingOptions).
 */
export interface TopicNaming {
  /** The topic a command type is sent to and handled from. */
  command(type: string): string;
  /**
   * The topic's name after `<prefix>commands.`: the type itself, or the topic it shares. Names
   * the consumer group of the topic's handler. Optional for naming written before shared topics:
   * the type is assumed.
   */
  commandTopicName?(type: string): string;
  /** The type's own topic, `<prefix>commands.<Type>`, whether or not it shares another now. */
  ownCommandTopic?(type: string): string;
  event(type: string): string;
  /** Where dead letters of a topic go. */
  deadLetter(topic: string): string;
  /** Replies to commands sent by one instance. */
  reply(instanceId: string): string;
}

export interface TopicNamingOptions {
  /**
   * Command type → the topic it shares with other types: with `{ MoveTrainerCommand: 'Trainer',
   * ChangeGroupCommand: 'Trainer' }` both go to `<prefix>commands.Trainer`. Per-key order holds
   * only within one topic, so give the commands of one aggregate type one topic: then a
   * trainer's move and the group join sent after it are handled in that order. Types not named
   * keep their own topic. Handle all the types of a shared topic with one `CommandBus.handle`.
   *
   * Hazard: senders and handlers must use the same mapping, and mapping a type of a running
   * deployment moves its commands to another topic; those still in its own topic are handled
   * only by a handler registered with `drainOwnTopics` (or drain them before the upgrade).
   */
  commandTopics?: Readonly<Record<string, string>>;
  /**
   * Event type → the topic it shares: with `{ Deposited: 'Account', Withdrawn: 'Account' }` both
   * go to `<prefix>events.Account`, so a handler of both sees an account's deposits and
   * withdrawals in the order they were published (per-key order holds only within a topic).
   * A handler of some of a shared topic's types reads the whole topic and skips the others.
   *
   * Hazard: as with commandTopics, publishers and handlers must use the same mapping; mapping a
   * type of a running deployment moves its new events to another topic, and a handler subscribed
   * to the new topic starts per its `startFrom`.
   */
  eventTopics?: Readonly<Record<string, string>>;
}

const NAME = /^[A-Za-z0-9._-]+$/;

/**
 * Default naming. Hazard: changing the prefix of a running deployment moves every topic; old
 * messages stay in the old topics and consumer groups start afresh on the new ones.
 * @throws Error for a prefix or shared topic name with characters topics cannot have
 */
export function topicNaming(prefix = '', options: TopicNamingOptions = {}): TopicNaming {
  if (!/^[A-Za-z0-9._-]*$/.test(prefix)) {
    throw new Error(`topic prefix "${prefix}" may contain only letters, digits, ".", "_" and "-"`);
  }
  const naming: TopicNaming = {
    command: (type) => `${prefix}commands.${type}`,
    commandTopicName: (type) => type,
    ownCommandTopic: (type) => `${prefix}commands.${type}`,
    event: (type) => `${prefix}events.${type}`,
    deadLetter: (topic) =>
      `${prefix}dead-letters.${topic.startsWith(prefix) ? topic.slice(prefix.length) : topic}`,
    reply: (instanceId) => `${prefix}replies.${instanceId}`,
  };
  const commands = options.commandTopics
    ? withCommandTopics(naming, options.commandTopics)
    : naming;
  return options.eventTopics ? withEventTopics(commands, options.eventTopics) : commands;
}

/**
 * `naming` with event types sharing topics (TopicNamingOptions.eventTopics): a shared topic is
 * named as the naming names a type's topic, `naming.event('Account')`.
 * @throws Error for a topic name with characters topics cannot have, or one that is itself an
 *   event type mapped to another topic
 */
export function withEventTopics(
  naming: TopicNaming,
  eventTopics: Readonly<Record<string, string>>,
): TopicNaming {
  const topics = checkedTopics('event', eventTopics);
  return {
    ...naming,
    event: (type) => naming.event(topics.get(type) ?? type),
  };
}

function checkedTopics(
  kind: 'command' | 'event',
  mapping: Readonly<Record<string, string>>,
): Map<string, string> {
  const topics = new Map(Object.entries(mapping));
  for (const [type, topic] of topics) {
    if (typeof topic !== 'string' || !NAME.test(topic))
      throw new Error(
        `the topic of ${kind} ${type}, "${String(topic)}", may contain only letters, digits, ".", "_" and "-"`,
      );
    const further = topics.get(topic);
    if (further !== undefined && further !== topic)
      throw new Error(
        `${kind} ${type} shares topic ${topic}, which is also ${kind === 'event' ? 'an' : 'a'} ${kind} type mapped to topic ${further}`,
      );
  }
  return topics;
}

/**
 * `naming` with command types sharing topics (TopicNamingOptions.commandTopics): a shared topic
 * is named as the naming names a type's topic, `naming.command('Trainer')`.
 * @throws Error for a topic name with characters topics cannot have, or one that is itself a
 *   type mapped to another topic (its commands and the shared ones would part)
 */
export function withCommandTopics(
  naming: TopicNaming,
  commandTopics: Readonly<Record<string, string>>,
): TopicNaming {
  const topics = checkedTopics('command', commandTopics);
  const own = (type: string) => naming.ownCommandTopic?.(type) ?? naming.command(type);
  return {
    ...naming,
    command: (type) => {
      const topic = topics.get(type);
      return topic === undefined ? naming.command(type) : own(topic);
    },
    commandTopicName: (type) => topics.get(type) ?? naming.commandTopicName?.(type) ?? type,
    ownCommandTopic: own,
  };
}
