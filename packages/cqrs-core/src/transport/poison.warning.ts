import { type PoisonMessage } from './transport.port';

/** The `type` of the process warning `warnOfPoison` emits. */
export const POISON_WARNING = 'CausewayPoisonWarning';

/**
 * What a subscriber does with an undecodable message when it was given no `onPoison`: the
 * message is still acknowledged (it must not block its stream or partition), but not silently —
 * a process warning (`process.on('warning')`, printed to stderr by default) names the topic,
 * position, group and reason, and says how to keep such messages. The raw payload is left out:
 * it may be large or hold data that does not belong in logs.
 */
export function warnOfPoison(poison: PoisonMessage): void {
  process.emitWarning(
    `undecodable message on ${poison.topic} at ${poison.position} (group ${poison.group}) ` +
      `acknowledged and dropped: ${poison.reason}. Give the subscriber an onPoison, ` +
      'e.g. poisonToDeadLetters(queue), to keep such messages as dead letters.',
    { type: POISON_WARNING, code: 'CAUSEWAY_POISON' },
  );
}
