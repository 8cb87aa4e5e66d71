import { loadConfiguration } from '@causeway/cqrs-core';
import { z } from 'zod';
import { trainerServiceConfiguration, trainerSettings } from './trainer-service.config';

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

describe('trainer settings: SNAPSHOT_EVERY', () => {
  const load = (SNAPSHOT_EVERY: string) => loadConfiguration(settings, { SNAPSHOT_EVERY });

  it('takes 0 (no snapshots) up to 9007199254740991 events', () => {
    expect(load('0').SNAPSHOT_EVERY).toBe(0);
    expect(load('9007199254740991').SNAPSHOT_EVERY).toBe(Number.MAX_SAFE_INTEGER);
  });

  // 2^53 and beyond were refused as "must be a non-negative integer", which they are: the error
  // named neither the bound nor why the value was wrong.
  it.each([
    ['2^53', '9007199254740992'],
    ['2^53 + 1', '9007199254740993'],
    ['10^30', '1'.padEnd(31, '0')],
  ])('refuses SNAPSHOT_EVERY=%s at start-up, naming the bound', (_label, value) => {
    expect(() => load(value)).toThrow(
      /^Invalid configuration: SNAPSHOT_EVERY: must be at most 9007199254740991 \(events\)$/,
    );
  });

  it.each([
    ['-1', 'must not be negative'],
    ['1.5', 'must be a non-negative integer'],
    ['1e3', 'must be a non-negative integer'],
  ])('refuses SNAPSHOT_EVERY=%s at start-up, saying what is wrong', (value, problem) => {
    expect(() => load(value)).toThrow(`Invalid configuration: SNAPSHOT_EVERY: ${problem}`);
  });

  // A negative fraction was told both "must be a non-negative integer" and "must not be
  // negative": one problem, named twice.
  it('refuses SNAPSHOT_EVERY=-1.5 with one problem', () => {
    expect(() => load('-1.5')).toThrow(
      /^Invalid configuration: SNAPSHOT_EVERY: must be a non-negative integer$/,
    );
  });
});

describe('trainer-service settings: FORWARDER_LEASE_MS', () => {
  const load = (FORWARDER_LEASE_MS: string) => () =>
    loadConfiguration(trainerServiceConfiguration, {
      ADMIN_TOKEN: 'an-admin-token-of-at-least-32-characters',
      REDIS_URL: 'redis://127.0.0.1:6379',
      MONGODB_URI: 'mongodb://127.0.0.1:27017/causeway',
      FORWARDER_LEASE_MS,
    }).FORWARDER_LEASE_MS;

  it('takes a lease of 300 ms or more', () => {
    expect(load('300')()).toBe(300);
  });

  // 0 was refused as "must be at least 1 ms; FORWARDER_LEASE_MS: must be at least 300": two
  // minimums, the first untrue, the second without its unit.
  it.each(['0', '-5', '299'])('refuses FORWARDER_LEASE_MS=%s naming its one minimum', (value) => {
    expect(load(value)).toThrow(
      /^Invalid configuration: FORWARDER_LEASE_MS: must be at least 300 ms$/,
    );
  });
});
