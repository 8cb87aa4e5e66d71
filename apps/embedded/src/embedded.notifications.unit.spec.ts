import { loadConfiguration, MessageFactory } from '@causeway/cqrs-core';
import { type NotificationLog } from '@causeway/platform';
import {
  PROJECTION_MODULE_OPTIONS,
  type ProjectionModuleOptions,
  ProjectionRunner,
} from '@causeway/projection-worker';
import { NestFactory } from '@nestjs/core';
import { embeddedConfiguration } from './config/embedded.config';
import { EmbeddedModule } from './embedded.module';

/**
 * The embedded app's notification log keeps moves HISTORY_TTL_MS (its dedup window): a move
 * older than that, projected again, must not be notified again (clients would get it twice,
 * a stale position after a newer one).
 */
describe('embedded: moves notified by the projection', () => {
  it('are not notified once older than the notification log keeps them (HISTORY_TTL_MS)', async () => {
    const config = loadConfiguration(embeddedConfiguration, { HISTORY_TTL_MS: '600000' });
    const module = await NestFactory.createApplicationContext(EmbeddedModule.forRoot(config), {
      logger: false,
    });
    try {
      const runner = module.get(ProjectionRunner);
      const { notifications } = module.get<ProjectionModuleOptions>(PROJECTION_MODULE_OPTIONS);
      const log = notifications as NotificationLog;
      for (let i = 0; i < 200 && !runner.isCaughtUp; i++)
        await new Promise((resolve) => setTimeout(resolve, 25));
      expect(runner.isCaughtUp).toBe(true);
      const factory = new MessageFactory();
      const move = (ageMs: number) => {
        const event = factory.event('TrainerMovedEvent', {
          trainerId: 'ash',
          position: { x: 1, y: 2 },
          movement: { isMoving: false, direction: { x: 0, y: 0 }, speed: 0, startedAt: 0 },
          timestamp: Date.now() - ageMs,
          groups: [],
        });
        return {
          ...event,
          metadata: { ...event.metadata, timestamp: new Date(Date.now() - ageMs).toISOString() },
        };
      };
      const old = move(15 * 60_000);
      const fresh = move(1_000);
      await runner.handle(old);
      await runner.handle(fresh);
      const notified = async (id: string) => (await log.idOf(`position:${id}`)) !== undefined;
      expect(await notified(fresh.messageId)).toBe(true);
      expect(await notified(old.messageId)).toBe(false);
    } finally {
      await module.close();
    }
  });
});
