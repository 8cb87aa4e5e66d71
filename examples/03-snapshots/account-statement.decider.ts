import { type Decider } from '@causeway/cqrs-core';
import {
  type AccountCommand,
  type AccountState,
  account,
} from '../01-basic-event-sourcing/account.decider';
import { type AccountEvent } from '../01-basic-event-sourcing/account.events';

/** Release 2 of the account's state: it also counts deposits (a new field). */
export interface AccountStatement extends AccountState {
  deposits: number;
}

/**
 * The account of example 01 with a state that changed shape: snapshots taken of the old state
 * lack `deposits`, so the repository's `snapshots.schemaVersion` goes from 1 to 2 with it.
 */
export const accountStatement: Decider<AccountCommand, AccountEvent, AccountStatement> = {
  initialState: () => ({ ...account.initialState(), deposits: 0 }),
  decide: (command, state) => account.decide(command, state),
  evolve: (state, event) => ({
    ...state,
    ...account.evolve(state, event),
    deposits: state.deposits + (event.type === 'MoneyDeposited' ? 1 : 0),
  }),
};
