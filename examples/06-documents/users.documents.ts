import {
  documentCollection,
  DomainError,
  messageType,
  SerializerRegistry,
} from '@causeway/cqrs-core';
import { z } from 'zod';

/** The user example of SPEC S4: commands, the users collection and the events it makes. */
export const CreateUser = messageType(
  'CreateUser',
  z.object({ name: z.string().min(1), email: z.email() }),
);
export const ChangeEmail = messageType('ChangeEmail', z.object({ email: z.email() }));
export const UserEmailChanged = messageType(
  'UserEmailChanged',
  z.object({ email: z.string(), previous: z.string() }),
);

export const User = z.object({ name: z.string().min(1), email: z.email() });
export type User = z.infer<typeof User>;

/**
 * Users as event-sourced documents: every change is `UserCreated { document }`, `UserUpdated
 * { patch }` or `UserDeleted`, plus `UserEmailChanged` when the email changed — appended with
 * the change, in one append.
 */
export const users = documentCollection('users', {
  aggregateType: 'User',
  schema: User,
  events: ({ diff, previous }) =>
    !diff.isNew && typeof diff.mergePatch.email === 'string'
      ? [UserEmailChanged.of({ email: diff.mergePatch.email, previous: previous!.email })]
      : [],
});

/** Every message of the example, for the event store and the bus. */
export function usersSerializer(): SerializerRegistry {
  const registry = new SerializerRegistry();
  for (const type of [CreateUser, ChangeEmail, UserEmailChanged, ...users.messageTypes])
    registry.register(type);
  return registry;
}

/** A refusal the sender gets as a CommandRejectedError (a DomainError is never retried). */
export class UserExistsError extends DomainError {
  constructor(readonly id: string) {
    super(`user ${id} exists`, { code: 'user-exists', details: { id } });
  }
}

export class UnknownUserError extends DomainError {
  constructor(readonly id: string) {
    super(`no user ${id}`, { code: 'unknown-user', details: { id } });
  }
}
