import { type Decider, DomainError } from '@causeway/cqrs-core';
import { AccountOpened, type AccountEvent, MoneyDeposited, MoneyWithdrawn } from './account.events';

export type AccountCommand =
  | { type: 'OpenAccount'; data: { owner: string } }
  | { type: 'Deposit'; data: { amount: number } }
  | { type: 'Withdraw'; data: { amount: number } };

export interface AccountState {
  open: boolean;
  balance: number;
}

/** A refusal the caller can act on: it carries the facts (a DomainError is never retried). */
export class InsufficientFundsError extends DomainError {
  constructor(
    readonly balance: number,
    readonly amount: number,
  ) {
    super(`cannot withdraw ${amount}, balance is ${balance}`, {
      code: 'insufficient-funds',
      details: { balance, amount },
    });
  }
}

/**
 * A bank account as a decider: pure functions, no I/O. `decide` runs again on every retry after
 * a conflict, so it reads nothing but the command and the state.
 */
export const account: Decider<AccountCommand, AccountEvent, AccountState> = {
  initialState: () => ({ open: false, balance: 0 }),
  decide(command, state) {
    switch (command.type) {
      case 'OpenAccount':
        return state.open ? [] : AccountOpened.of({ owner: command.data.owner });
      case 'Deposit':
        if (!state.open) throw new DomainError('account is not open');
        return MoneyDeposited.of({ amount: command.data.amount });
      case 'Withdraw':
        if (state.balance < command.data.amount)
          throw new InsufficientFundsError(state.balance, command.data.amount);
        return MoneyWithdrawn.of({ amount: command.data.amount });
    }
  },
  evolve(state, event) {
    switch (event.type) {
      case 'AccountOpened':
        return { ...state, open: true };
      case 'MoneyDeposited':
        return { ...state, balance: state.balance + event.data.amount };
      case 'MoneyWithdrawn':
        return { ...state, balance: state.balance - event.data.amount };
      default:
        // History may hold types a later release added: evolve never throws on history.
        return state;
    }
  },
};
