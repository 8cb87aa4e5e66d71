import { type Envelope } from './envelope';
import { type MessageSchema } from './serializer.registry';

/**
 * The result schema of the type each command was made from (`MessageFactory.command(Type, …)`
 * of a type that declares one). Its envelope is typed with that schema's output, so a
 * requester must parse the reply with it even when its registry does not know the schema (a
 * type registered by name, data only): otherwise `request` resolves with the handler's JSON
 * under the output's type. Weak: it goes with the envelope object, nothing is held for it; a
 * copy of the envelope (a spread) is not in it.
 */
const made = new WeakMap<Envelope, MessageSchema>();

export function rememberResultSchema(command: Envelope, schema: MessageSchema): void {
  made.set(command, schema);
}

/** The result schema of the type `command` was made from, if it declares one. */
export function resultSchemaMadeWith(command: Envelope): MessageSchema | undefined {
  return made.get(command);
}
