// The example domain of the guide (README.md): a bank account, as a decider and as a class.
import { AggregateRoot, type Decider, DomainError } from '@causeway/cqrs-core';

// #region guide:decider
export type AccountEvent =
  | { type: 'AccountOpened'; data: { owner: string } }
  | { type: 'MoneyDeposited'; data: { amount: number } }
  | { type: 'MoneyWithdrawn'; data: { amount: number } };

export type AccountCommand =
  | { type: 'OpenAccount'; data: { owner: string } }
  | { type: 'Deposit'; data: { amount: number } }
  | { type: 'Withdraw'; data: { amount: number } };

export interface AccountState {
  open: boolean;
  balance: number;
}

// A DomainError: a command bus answers the sender with it; no retry, no dead letter.
export class InsufficientFundsError extends DomainError {
  constructor(
    readonly balance: number,
    readonly amount: number,
  ) {
    // code and details reach the command's sender (CommandRejectedError) as they are.
    super(`cannot withdraw ${amount}, balance is ${balance}`, {
      code: 'insufficient-funds',
      details: { balance, amount },
    });
  }
}

export const account: Decider<AccountCommand, AccountEvent, AccountState> = {
  initialState: () => ({ open: false, balance: 0 }),
  decide(command, state) {
    switch (command.type) {
      case 'OpenAccount':
        if (state.open) return []; // opening twice changes nothing
        return { type: 'AccountOpened', data: { owner: command.data.owner } };
      case 'Deposit':
        if (!state.open) throw new DomainError('account is not open');
        return { type: 'MoneyDeposited', data: { amount: command.data.amount } };
      case 'Withdraw':
        if (state.balance < command.data.amount)
          throw new InsufficientFundsError(state.balance, command.data.amount);
        return { type: 'MoneyWithdrawn', data: { amount: command.data.amount } };
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
        // A type this version does not know (a newer release wrote it): evolve must not throw
        // on history, so keep the state; a registry-backed store refuses the read instead.
        return state;
    }
  },
};
// #endregion

// #region guide:aggregate
export class Account extends AggregateRoot<AccountState, AccountEvent> {
  protected initialState(): AccountState {
    return { open: false, balance: 0 };
  }

  protected evolve(state: AccountState, event: AccountEvent): AccountState {
    return account.evolve(state, event); // or a switch of its own
  }

  open(owner: string): void {
    if (!this.state.open) this.apply({ type: 'AccountOpened', data: { owner } });
  }

  deposit(amount: number): void {
    if (!this.state.open) throw new DomainError('account is not open');
    this.apply({ type: 'MoneyDeposited', data: { amount } });
  }

  withdraw(amount: number): void {
    if (this.state.balance < amount) throw new InsufficientFundsError(this.state.balance, amount);
    this.apply({ type: 'MoneyWithdrawn', data: { amount } });
  }
}
// #endregion
