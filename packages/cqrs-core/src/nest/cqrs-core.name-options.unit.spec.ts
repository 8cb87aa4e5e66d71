import 'reflect-metadata';
import { z } from 'zod';
import { SerializerRegistry } from '../messages/serializer.registry';
import { startError } from './cqrs-core.module.fixture';
import { type CqrsCoreModuleOptions } from './cqrs-core.options';
import { CausewayServiceModule } from './service.module';

// `service` and `instanceId` name consumer groups and reply topics, and label every log line
// and metric: a number, a padded or blank name, or one of a thousand characters was taken as
// long as it was not empty, and broke or split them far from the setting.

const base = (): CqrsCoreModuleOptions => ({
  service: 'names',
  instanceId: 'names-1',
  transport: 'in-memory',
  serializer: new SerializerRegistry().register('Move', z.object({ dx: z.number() })),
});

const RULE = 'must be a string of 1 to 200 characters without whitespace';
const refused: [string, unknown, string][] = [
  ['a number', 42, '42'],
  ['an array', ['a'], '["a"]'],
  ['blanks', '   ', '"   "'],
  ['a padded name', ' names ', '" names "'],
  ['a name with a space', 'my service', '"my service"'],
  ['a name with a line break', 'a\nb', '"a\\nb"'],
  ['201 characters', 'x'.repeat(201), 'a string of 201 characters'],
];

describe.each(['service', 'instanceId'] as const)('options.%s', (option) => {
  describe.each(['forRoot', 'forRootAsync'] as const)('CqrsCoreModule.%s', (how) => {
    it.each(refused)('refuses %s at start, naming it', async (_what, value, shown) => {
      const error = await startError(base, { [option]: value }, how);
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toBe(
        `CqrsCoreModule: options.${option} ${RULE}, got ${shown}`,
      );
    });

    it('takes 200 characters, dots, dashes and underscores', async () => {
      expect(await startError(base, { [option]: `a.b_c-${'x'.repeat(194)}` }, how)).toBeUndefined();
    });
  });

  it.each(refused)('CausewayServiceModule.forRoot refuses %s, naming it', (_what, value, shown) => {
    expect(() =>
      CausewayServiceModule.forRoot({
        service: 'names',
        instanceId: 'names-1',
        logLevel: 'silent',
        [option]: value as string,
      }),
    ).toThrow(
      new TypeError(`CausewayServiceModule.forRoot: options.${option} ${RULE}, got ${shown}`),
    );
  });
});
