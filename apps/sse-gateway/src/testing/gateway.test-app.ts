import 'reflect-metadata';
import { type AddressInfo } from 'node:net';
import { type Server } from 'node:http';
import {
  type BeforeApplicationShutdown,
  Global,
  type INestApplication,
  Injectable,
  Module,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type HealthProbe } from '@causeway/cqrs-core';
import { HEALTH_PROBES, METRICS_REGISTRY, parseBodies } from '@causeway/cqrs-core/nest';
import {
  InMemoryGroupMembers,
  InMemoryNotificationLog,
  InMemoryTokenRevocations,
  InMemoryTrainerPositions,
  type NotificationLog,
  TokenService,
} from '@causeway/platform';
import { Registry } from 'prom-client';
import { type GatewayControl } from '../control/gateway-control.port';
import { GatewayModule } from '../gateway/gateway.module';
import { type GatewayModuleOptions } from '../gateway/gateway.options';
import { type GatewaySettings } from '../gateway/gateway.settings';
import { SseHub } from '../sse/sse.hub';
import { InMemoryPresenceRegistry } from '../presence/in-memory.presence-registry';

/** What a test needs of a running gateway. */
export interface GatewayTestApp {
  /** `http://127.0.0.1:<port>` */
  url: string;
  tokens: TokenService;
  /** What `tokens` checks; undefined when started with `revocable: false`. */
  revocations: InMemoryTokenRevocations | undefined;
  log: InMemoryNotificationLog;
  positions: InMemoryTrainerPositions;
  groups: InMemoryGroupMembers;
  hub: SseHub;
  server: Server;
  /** The readiness probes the app registered (what /health/ready runs). */
  probes: HealthProbe[];
  /** The value of a metric without labels, as /metrics would show it. */
  metric(name: string): Promise<number>;
  /** A bearer access token for `userId`. */
  bearer(userId: string): Promise<{ Authorization: string }>;
  close(): Promise<void>;
}

export const TEST_ADMIN_TOKEN = 'admin-token-for-tests-0123456789';

/**
 * The gateway feature module as the apps compose it, over the in-memory adapters, listening on a
 * free loopback port. GET /events included as the apps serve it: a stream it can open is opened
 * in front of Express (EventsListener); anything else (a refusal: 401, 429, 503) goes on to
 * Express, its body parsers (UNREAD_BODIES) and EventsController, as any other route.
 */
export async function startGatewayTestApp(
  options: Pick<GatewayModuleOptions, 'rateLimiter' | 'serverTime'> & {
    settings?: Partial<GatewaySettings>;
    /** Whether tokens can be revoked (an InMemoryTokenRevocations). Default true. */
    revocable?: boolean;
    /** What the gateway reads instead of `log` itself (e.g. `log` behind a link that fails). */
    wrapLog?: (log: InMemoryNotificationLog) => NotificationLog;
    /** The control channel (default: an InMemoryGatewayControl of its own). */
    control?: GatewayControl;
    /** The instance's id (default `gw-test`): what its streams' `session` frames name. */
    serverId?: string;
    /**
     * What the app's shutdown waits for after the gateway's own hook, before Nest closes the
     * HTTP server (as the bus's close does in the apps): a test looks at a stopping instance.
     */
    holdShutdown?: Promise<void>;
  } = {},
): Promise<GatewayTestApp> {
  const revocations = options.revocable === false ? undefined : new InMemoryTokenRevocations();
  const tokens = new TokenService({
    secret: 'a-test-secret-of-at-least-32-characters',
    revocations,
  });
  const log = new InMemoryNotificationLog();
  const positions = new InMemoryTrainerPositions();
  const groups = new InMemoryGroupMembers();
  const registry = new Registry();
  const probes: HealthProbe[] = [];
  const held = options.holdShutdown;
  @Injectable()
  class ShutdownHold implements BeforeApplicationShutdown {
    async beforeApplicationShutdown(): Promise<void> {
      await held;
    }
  }
  // Global: Nest runs its shutdown hooks after those of the gateway module.
  @Global()
  @Module({
    providers: [
      { provide: METRICS_REGISTRY, useValue: registry },
      { provide: HEALTH_PROBES, useValue: probes },
      ShutdownHold,
    ],
    exports: [METRICS_REGISTRY, HEALTH_PROBES],
  })
  class MetricsModule {}
  @Module({
    imports: [
      MetricsModule,
      GatewayModule.forRoot({
        serverId: options.serverId ?? 'gw-test',
        tokens,
        notifications: options.wrapLog ? options.wrapLog(log) : log,
        positions,
        groups,
        presence: new InMemoryPresenceRegistry(),
        adminToken: TEST_ADMIN_TOKEN,
        connectionEvents: false,
        revocations,
        settings: options.settings,
        rateLimiter: options.rateLimiter,
        serverTime: options.serverTime,
        control: options.control,
      }),
    ],
  })
  class TestAppModule {}
  // The body parsers the app gets from bootstrapService.
  const app: INestApplication = await NestFactory.create(TestAppModule, {
    logger: false,
    bodyParser: false,
  });
  parseBodies(app);
  await app.listen(0, '127.0.0.1');
  const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    tokens,
    revocations,
    log,
    positions,
    groups,
    hub: app.get(SseHub),
    server: app.getHttpServer() as Server,
    probes,
    metric: async (name) => {
      const values = (await registry.getSingleMetric(name)?.get())?.values ?? [];
      return values.reduce((sum, { value }) => sum + value, 0);
    },
    bearer: async (userId) => ({
      Authorization: `Bearer ${(await tokens.issue(userId)).token}`,
    }),
    close: () => app.close(),
  };
}

/** A response as a test looks at it: a stream's body is not read (only that it opened). */
export interface Answer {
  status: number;
  contentType: string | null;
  /** The parsed problem document or JSON body; undefined for an event stream. */
  body: Record<string, unknown> | undefined;
}

/** GET `path`; an event stream is closed once its headers arrived. */
export async function get(
  app: GatewayTestApp,
  path: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const controller = new AbortController();
  const response = await fetch(`${app.url}${path}`, { headers, signal: controller.signal });
  const contentType = response.headers.get('content-type');
  if (contentType?.startsWith('text/event-stream')) {
    controller.abort();
    return { status: response.status, contentType, body: undefined };
  }
  return {
    status: response.status,
    contentType,
    body: (await response.json()) as Record<string, unknown>,
  };
}
