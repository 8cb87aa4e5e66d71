import { AggregateSpecification, DeciderSpecification } from '@causeway/cqrs-core/testing';
import { Account, account, InsufficientFundsError } from './account.domain';

describe('guide: the domain', () => {
  // #region guide:decider-spec
  const given = DeciderSpecification.for(account).given;

  it('deposits into an open account', () => {
    given([{ type: 'AccountOpened', data: { owner: 'ada' } }])
      .when({ type: 'Deposit', data: { amount: 50 } })
      .then([{ type: 'MoneyDeposited', data: { amount: 50 } }]);
  });

  it('refuses to overdraw', () => {
    given([
      { type: 'AccountOpened', data: { owner: 'ada' } },
      { type: 'MoneyDeposited', data: { amount: 30 } },
    ])
      .when({ type: 'Withdraw', data: { amount: 50 } })
      .thenThrows(InsufficientFundsError, (error) => error.balance === 30);
  });

  it('opening twice changes nothing', () => {
    given([{ type: 'AccountOpened', data: { owner: 'ada' } }])
      .when({ type: 'OpenAccount', data: { owner: 'ada' } })
      .then([]);
  });
  // #endregion

  // #region guide:aggregate-spec
  it('works the same with the class', () => {
    const spec = AggregateSpecification.for(() => new Account('acc-1'));
    spec
      .given([{ type: 'AccountOpened', data: { owner: 'ada' } }])
      .when((acc) => acc.deposit(20))
      .thenState({ open: true, balance: 20 });
    spec
      .given([])
      .when((acc) => acc.withdraw(1))
      .thenThrows(InsufficientFundsError);
  });
  // #endregion

  it('the helpers fail when the expectation is wrong', () => {
    expect(() =>
      given([])
        .when({ type: 'OpenAccount', data: { owner: 'ada' } })
        .then([]),
    ).toThrow();
    expect(() =>
      given([])
        .when({ type: 'Deposit', data: { amount: 1 } })
        .thenThrows(InsufficientFundsError),
    ).toThrow(/Expected InsufficientFundsError/);
  });

  it('tracks versions on the class', () => {
    const acc = new Account('acc-1');
    acc.open('ada');
    acc.deposit(5);
    expect(acc.version).toBe(2);
    expect(acc.persistedVersion).toBe(0);
    expect(acc.uncommittedEvents.map((e) => e.type)).toEqual(['AccountOpened', 'MoneyDeposited']);
  });
});
