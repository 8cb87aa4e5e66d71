import 'reflect-metadata';
import { type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { z } from 'zod';
import { SerializerRegistry } from '../messages/serializer.registry';
import { CqrsCoreModule } from './cqrs-core.module';
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

/** What starting an app with these options throws (undefined when it starts). */
async function startError(
  options: Record<string, unknown>,
  how: 'forRoot' | 'forRootAsync',
): Promise<unknown> {
  let app: INestApplication | undefined;
  try {
    const given = { ...base(), ...options } as CqrsCoreModuleOptions;
    const module =
      how === 'forRoot'
        ? CqrsCoreModule.forRoot(given)
        : CqrsCoreModule.forRootAsync({ useFactory: async () => given });
    const moduleRef = await Test.createTestingModule({ imports: [module] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    return undefined;
  } catch (error) {
    return error;
  } finally {
    await app?.close().catch(() => undefined);
  }
}

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
      const error = await startError({ [option]: value }, how);
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toBe(
        `CqrsCoreModule: options.${option} ${RULE}, got ${shown}`,
      );
    });

    it('takes 200 characters, dots, dashes and underscores', async () => {
      expect(await startError({ [option]: `a.b_c-${'x'.repeat(194)}` }, how)).toBeUndefined();
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
