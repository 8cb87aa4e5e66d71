import { loadConfiguration } from '@causeway/cqrs-core';
import { z } from 'zod';
import { trainerSettings } from './trainer-service.config';

// The trainer's own settings, as trainer-service and the embedded app read them.
const settings = z.object(trainerSettings);

describe('trainer settings: TRAINER_SPEED', () => {
  const load = (TRAINER_SPEED?: string) =>
    loadConfiguration(settings, TRAINER_SPEED === undefined ? {} : { TRAINER_SPEED });

  it('takes a positive speed up to 1000000 units per second, 100 when unset', () => {
    expect(load().TRAINER_SPEED).toBe(100);
    expect(load('0.5').TRAINER_SPEED).toBe(0.5);
    expect(load('1000000').TRAINER_SPEED).toBe(1_000_000);
  });

  // 1e308 written out was taken: two seconds of movement made the position infinite, and every
  // later move of that trainer (its stop too) was refused, as no event may hold it.
  it.each([
    ['0', '0', 'must be a positive number'],
    ['-5', '-5', 'must be a positive number'],
    ['NaN', 'NaN', 'must be a positive number'],
    ['Infinity', 'Infinity', 'must be a positive number'],
    ['400 nines', '9'.repeat(400), 'must be a positive number'],
    ['1e308 in digits', '1'.padEnd(309, '0'), 'must be at most 1000000 (units per second)'],
    ['1000000.5', '1000000.5', 'must be at most 1000000 (units per second)'],
  ])('refuses TRAINER_SPEED=%s at start-up, naming it', (_label, value, problem) => {
    expect(() => load(value)).toThrow(`Invalid configuration: TRAINER_SPEED: ${problem}`);
  });
});
