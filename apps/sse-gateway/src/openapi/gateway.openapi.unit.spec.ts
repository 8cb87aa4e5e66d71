import 'reflect-metadata';
import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { z } from 'zod';
import { GatewayModule } from '../gateway/gateway.module';
import { type GatewayModuleOptions } from '../gateway/gateway.options';
import {
  InMemoryGroupMembers,
  InMemoryNotificationLog,
  InMemoryTrainerPositions,
} from '@causeway/platform';
import { DEFAULT_GATEWAY_SETTINGS } from '../gateway/gateway.settings';
import { type Admission, SseHub } from '../sse/sse.hub';
import { TestSink } from '../testing/sse.test-sink';
import { gatewayOpenApi } from './gateway.openapi';

// The document is plain JSON: read it loosely, the assertions are the schema.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

/** `METHOD /path` of every route of GatewayModule's controllers, from Nest's route metadata. */
function servedRoutes(): string[] {
  const controllers = GatewayModule.forRoot({} as GatewayModuleOptions).controllers ?? [];
  const routes: string[] = [];
  for (const controller of controllers) {
    const prefix = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
    const prototype = (controller as { prototype: Record<string, unknown> }).prototype;
    for (const name of Object.getOwnPropertyNames(prototype)) {
      const handler = prototype[name];
      if (typeof handler !== 'function' || name === 'constructor') continue;
      const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
      const path = Reflect.getMetadata(PATH_METADATA, handler) as string | undefined;
      if (method === undefined || path === undefined) continue;
      const full = `/${[prefix, path].filter((part) => part && part !== '/').join('/')}`;
      // Nest's `:name` parameters are OpenAPI's `{name}`.
      const route = full.replace(/\/+/g, '/').replace(/:(\w+)/g, '{$1}');
      routes.push(`${RequestMethod[method]} ${route}`);
    }
  }
  return routes.sort();
}

const document = gatewayOpenApi() as Json;
const operations = Object.entries(document.paths as Json).flatMap(([path, methods]) =>
  Object.entries(methods as Json).map(([method, operation]) => ({
    route: `${method.toUpperCase()} ${path}`,
    operation: operation as Json,
  })),
);

describe('the gateway OpenAPI document', () => {
  it('documents every route the gateway module serves, and no other', () => {
    expect(servedRoutes()).toEqual([
      'DELETE /api/session',
      'GET /api/positions',
      'GET /api/presence',
      'GET /api/v2/progress/subscribe',
      'GET /api/v2/progress/subscribe/{taskId}',
      'GET /events',
      'POST /api/presence/{userId}/disconnect',
      'POST /api/session',
      'POST /api/stream-tokens',
    ]);
    // Express answers HEAD with the GET route: the stream routes answer it with the headers GET
    // would, opening no stream (events.controller, progress.controller): documented as well.
    const served = [
      ...servedRoutes(),
      'HEAD /events',
      'HEAD /api/v2/progress/subscribe',
      'HEAD /api/v2/progress/subscribe/{taskId}',
    ].sort();
    expect(operations.map((o) => o.route).sort()).toEqual(served);
  });

  it('names the security of each operation itself (merged into command-api’s, none is inherited)', () => {
    for (const { route, operation } of operations)
      expect({ route, security: Array.isArray(operation.security) }).toEqual({
        route,
        security: true,
      });
    const schemes = Object.keys(document.components.securitySchemes);
    for (const { operation } of operations)
      for (const requirement of operation.security)
        for (const name of Object.keys(requirement)) expect(schemes).toContain(name);
  });

  it('documents Retry-After on every 429 and 503, WWW-Authenticate on every 401', () => {
    for (const { route, operation } of operations)
      for (const [status, response] of Object.entries(operation.responses as Json)) {
        const headers = Object.keys((response as Json).headers ?? {});
        if (status === '429' || status === '503')
          expect({ route, status, headers }).toEqual({
            route,
            status,
            headers: expect.arrayContaining(['Retry-After']),
          });
        if (status === '401')
          expect({ route, status, headers }).toEqual({
            route,
            status,
            headers: expect.arrayContaining(['WWW-Authenticate']),
          });
      }
  });

  it('names every problem type a stream can be refused with, on every stream route', async () => {
    // The refusals of SseHub.admit, each provoked: what a client must be able to tell apart.
    const hubs: SseHub[] = [];
    const hub = (serverTimeReady?: () => boolean) => {
      const made = new SseHub({
        serverId: 'gw-1',
        log: new InMemoryNotificationLog(),
        positions: new InMemoryTrainerPositions(),
        groups: new InMemoryGroupMembers(),
        settings: { ...DEFAULT_GATEWAY_SETTINGS, maxConnections: 2, maxConnectionsPerUser: 1 },
        serverTimeReady,
      });
      hubs.push(made);
      return made;
    };
    const refusals: Admission[] = [];
    try {
      refusals.push(hub().admit('ash'));
      const unsynchronised = hub(() => false);
      await unsynchronised.start();
      refusals.push(unsynchronised.admit('ash'));
      const started = hub();
      await started.start();
      await started.open({ userId: 'ash', trainerIds: [] }, new TestSink());
      refusals.push(started.admit('ash'));
      await started.open({ userId: 'misty', trainerIds: [] }, new TestSink());
      refusals.push(started.admit('brock'));
    } finally {
      await Promise.all(hubs.map((made) => made.stop()));
    }
    const reasons = refusals.map((refusal) => (refusal.ok ? 'admitted' : refusal.reason));
    expect(reasons).toEqual(['not-ready', 'clock-unsynchronised', 'user-limit', 'instance-full']);
    for (const { route, operation } of operations.filter(({ route }) =>
      /^GET \/(events|api\/v2\/progress\/subscribe)/.test(route),
    ))
      for (const refusal of refusals) {
        if (refusal.ok) continue;
        const description = String(operation.responses[refusal.status]?.description ?? '');
        expect({ route, status: refusal.status, names: description }).toEqual({
          route,
          status: refusal.status,
          names: expect.stringContaining(`problems/${refusal.reason}`),
        });
      }
  });

  it('has only references that resolve, and component schemas that compile', () => {
    const refs = [
      ...JSON.stringify(document).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g),
    ];
    expect(refs.length).toBeGreaterThan(0);
    for (const [, name] of refs) expect(Object.keys(document.components.schemas)).toContain(name);
    const $defs = JSON.parse(
      JSON.stringify(document.components.schemas).split('#/components/schemas/').join('#/$defs/'),
    ) as Json;
    const notification = z.fromJSONSchema({ $ref: '#/$defs/SseNotification', $defs });
    expect(
      notification.safeParse({
        jsonrpc: '2.0',
        method: 'position.update',
        params: { trainerId: 'ash', x: 1, y: 2, isMoving: true, dirX: 1, dirY: 0 },
      }).success,
    ).toBe(true);
    expect(notification.safeParse({ jsonrpc: '2.0', method: 'shutdown', params: {} }).success).toBe(
      false,
    );
    expect(notification.safeParse({ jsonrpc: '2.0', method: 'nothing', params: {} }).success).toBe(
      false,
    );
  });
});
