/** Topic names per message type (S0-2): `<prefix>commands.<Type>`, `<prefix>events.<Type>`. */
export interface TopicNaming {
  command(type: string): string;
  event(type: string): string;
  /** Where dead letters of a topic go. */
  deadLetter(topic: string): string;
  /** Replies to commands sent by one instance. */
  reply(instanceId: string): string;
}

/**
 * Default naming. Hazard: changing the prefix of a running deployment moves every topic; old
 * messages stay in the old topics and consumer groups start afresh on the new ones.
 */
export function topicNaming(prefix = ''): TopicNaming {
  if (!/^[A-Za-z0-9._-]*$/.test(prefix)) {
    throw new Error(`topic prefix "${prefix}" may contain only letters, digits, ".", "_" and "-"`);
  }
  return {
    command: (type) => `${prefix}commands.${type}`,
    event: (type) => `${prefix}events.${type}`,
    deadLetter: (topic) =>
      `${prefix}dead-letters.${topic.startsWith(prefix) ? topic.slice(prefix.length) : topic}`,
    reply: (instanceId) => `${prefix}replies.${instanceId}`,
  };
}
