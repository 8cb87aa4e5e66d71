import 'reflect-metadata';
import { type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { CqrsCoreModule } from './cqrs-core.module';
import { type CqrsCoreModuleOptions } from './cqrs-core.options';

/**
 * What starting an app on CqrsCoreModule with `base()` and `options` over it throws (undefined
 * when it starts), through `forRoot` or `forRootAsync`: the options specs' refusals at start.
 */
export async function startError(
  base: () => CqrsCoreModuleOptions,
  options: Record<string, unknown>,
  how: 'forRoot' | 'forRootAsync',
): Promise<unknown> {
  let app: INestApplication | undefined;
  try {
    const given = () => ({ ...base(), ...options }) as CqrsCoreModuleOptions;
    const module =
      how === 'forRoot'
        ? CqrsCoreModule.forRoot(given())
        : CqrsCoreModule.forRootAsync({ useFactory: async () => given() });
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
