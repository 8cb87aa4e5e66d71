import { shownValue } from '../config/shown-value';
import { type Envelope } from '../messages/envelope';
import { type MessageSerializer } from '../messages/serializer.port';
import { namesOfType, storedTypeNames } from '../messages/type.names';
import {
  type EnvelopeOf,
  type MessageType,
  type MessageTypes,
  typeNamesOf,
} from '../messages/message.type';
import { type Router, type HandlerRegistration } from '../router/router';
import { type TopicNaming } from '../transport/topic.naming';
import { type Delivery, type Publisher } from '../transport/transport.port';
import { UnexpectedEventTypeError } from './bus.errors';

export interface EventHandlerOptions {
  /** Unique per service. Hazard: it names the consumer group; renaming re-consumes every event. */
  name: string;
  /** 'competing' (default): one instance of the service handles each event; 'fan-out': every instance. */
  mode?: 'competing' | 'fan-out';
  maxInFlight?: number;
  /**
   * Where a new consumer group starts: 'earliest' is the default of a competing handler,
   * 'latest' that of a fan-out one. Hazard: a fan-out handler therefore skips every event
   * published before its group (one per instance id) first subscribed, a renamed one too;
   * pass 'earliest' for it to read the topic from its earliest retained message.
   */
  startFrom?: HandlerRegistration['startFrom'];
  middleware?: HandlerRegistration['middleware'];
  /** See HandlerRegistration.idempotent: no deduplication claim for its deliveries. */
  idempotent?: boolean;
}

/**
 * Events: any number of handlers per type (S0-1), each in its own consumer group.
 * Topics per event type (`<prefix>events.<Type>`), or shared by the types the naming maps to
 * one topic (TopicNamingOptions.eventTopics); order holds per aggregate within a topic.
 */
export interface EventBusOptions {
  publisher: Publisher;
  /** Handlers registered with `on` run on this router. */
  router: Router;
  naming: TopicNaming;
  /**
   * The registry the subscriber reads with, when types were renamed
   * (SerializerRegistry.formerNames): a handler of a type then also takes the topics of its
   * former names, where producers of the previous release still publish. Without it, list the
   * former names in the handler's types yourself.
   */
  serializer?: MessageSerializer;
}

export class EventBus {
  private readonly publisher: Publisher;
  private readonly router: Router;
  private readonly naming: TopicNaming;
  private readonly serializer: MessageSerializer | undefined;

  /** Options, as CommandBus takes them; `(publisher, router, naming)` is the earlier form, kept. */
  constructor(options: EventBusOptions);
  constructor(publisher: Publisher, router: Router, naming: TopicNaming);
  constructor(first: EventBusOptions | Publisher, router?: Router, naming?: TopicNaming) {
    const positional = typeof (first as Publisher | undefined)?.publish === 'function';
    const options = positional
      ? { publisher: first as Publisher, router: router!, naming: naming! }
      : (first as EventBusOptions);
    const expected = {
      publisher: ['a Publisher', typeof options?.publisher?.publish === 'function'],
      router: ['a Router', typeof options?.router?.addHandler === 'function'],
      naming: ['a TopicNaming (topicNaming())', typeof options?.naming?.event === 'function'],
    } as const;
    for (const [name, [kind, ok]] of Object.entries(expected))
      if (!ok)
        throw new TypeError(
          `EventBus: ${positional ? name : `options.${name}`} must be ${kind}, got ${shownValue(options?.[name as keyof EventBusOptions])}`,
        );
    this.publisher = options.publisher;
    this.router = options.router;
    this.naming = options.naming;
    this.serializer = options.serializer;
  }

  /** Publishes events grouped by type: one round trip per topic, topics in parallel. */
  async publish(events: readonly Envelope[]): Promise<void> {
    const byTopic = new Map<string, Envelope[]>();
    for (const event of events) {
      const topic = this.naming.event(event.type);
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), event]);
    }
    await Promise.all([...byTopic].map(([topic, batch]) => this.publisher.publish(topic, batch)));
  }

  /**
   * Subscribes a handler to one or more event types: to their topics, once each. The handler
   * sees only those types: another type that the naming publishes to the same topic (a shared
   * topic) is skipped and acknowledged; a type the naming does not publish there at all (a
   * producer with another mapping, a command on an events topic) is dead-lettered at once
   * (UnexpectedEventTypeError). With {@link MessageType}s the handler's envelope is typed: for a
   * list, a union that `switch (event.type)` narrows.
   */
  on<M extends MessageType>(
    types: M | readonly M[],
    handler: (event: EnvelopeOf<M>, delivery: Delivery) => Promise<unknown> | unknown,
    options: EventHandlerOptions,
  ): this;
  on<Data = unknown>(
    types: MessageTypes,
    handler: (event: Envelope<Data>, delivery: Delivery) => Promise<unknown> | unknown,
    options: EventHandlerOptions,
  ): this;
  on(
    types: MessageTypes,
    handler: (event: Envelope, delivery: Delivery) => Promise<unknown> | unknown,
    options: EventHandlerOptions,
  ): this {
    const list = typeNamesOf(types);
    if (list.length === 0)
      throw new Error(`EventBus.on(${options?.name}): give at least one event type`);
    // A type and its former names are one type; deliveries come under the current name.
    const names = [...storedTypeNames(this.serializer, list)!];
    const handles = new Set(names);
    this.router.addHandler({
      ...options,
      topics: [...new Set(names.map((type) => this.naming.event(type)))],
      types: list,
      handle: async (delivery) => {
        const { type } = delivery.envelope;
        if (handles.has(type)) return handler(delivery.envelope, delivery);
        // Another type of a shared topic, under its name or a former one (renamed types).
        if (
          namesOfType(this.serializer, type).some(
            (name) => this.naming.event(name) === delivery.topic,
          )
        )
          return undefined;
        throw new UnexpectedEventTypeError(type, delivery.topic, list, options.name);
      },
    });
    return this;
  }
}
