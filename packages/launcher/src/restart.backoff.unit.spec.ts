import { restartBackoff } from './restart.backoff';

describe('restartBackoff', () => {
  it('restarts a crashing app after 1 s, doubling with each crash in a row up to 30 s', () => {
    const delays: number[] = [];
    let failures = 0;
    for (let crash = 0; crash < 8; crash++) {
      const { streak, delayMs } = restartBackoff(failures, 5_000);
      delays.push(delayMs);
      failures = streak;
    }
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('starts again at 1 s once the app had run for more than a minute', () => {
    expect(restartBackoff(5, 60_001)).toEqual({ streak: 1, delayMs: 1_000 });
    expect(restartBackoff(5, 60_000)).toEqual({ streak: 6, delayMs: 30_000 });
    expect(restartBackoff(2, 59_999)).toEqual({ streak: 3, delayMs: 4_000 });
  });
});
