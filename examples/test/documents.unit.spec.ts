import { run } from '../06-documents/documents.example';

describe('06 documents (in memory)', () => {
  it('writes users as documents with their events, refuses a duplicate, and notifies the handlers', async () => {
    const report = await run({ store: 'memory' });

    expect(report.duplicate).toBe('user-exists: user misty exists');
    expect(report.final).toEqual({
      version: 6,
      document: { name: 'Misty W.', email: 'misty@gym.org' },
    });
    // The two racing writers' changes land in either order; both are in the history.
    expect(report.mistyHistory.slice(0, 3)).toEqual([
      'UserCreated',
      'UserUpdated',
      'UserEmailChanged',
    ]);
    expect([...report.mistyHistory.slice(3)].sort()).toEqual([
      'UserEmailChanged',
      'UserUpdated',
      'UserUpdated',
    ]);
    expect([...report.notified].sort()).toEqual([
      'verify misty@gym.org',
      'verify misty@league.org',
      'welcome misty',
    ]);
  });
});
