import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { loadConfiguration } from '@causeway/cqrs-core';
import { commandApiConfiguration } from '../../../apps/command-api/src/config/command-api.config';
import { orderProcessorConfiguration } from '../../../apps/order-processor/src/config/order-processor.config';
import { projectionWorkerConfiguration } from '../../../apps/projection-worker/src/config/projection-worker.config';
import { sseGatewayConfiguration } from '../../../apps/sse-gateway/src/config/sse-gateway.config';
import { trainerServiceConfiguration } from '../../../apps/trainer-service/src/config/trainer-service.config';
import { APPS } from '../src';

// No Docker engine here: docker-compose.yml is kept correct by checking it against the apps.
const root = path.resolve(__dirname, '..', '..', '..');
interface Service {
  image?: string;
  build?: { context: string; dockerfile: string; args?: Record<string, string> };
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: unknown;
}
const compose = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), {
  merge: true,
}) as {
  services: Record<string, Service>;
};
const configurations = {
  'command-api': commandApiConfiguration,
  'trainer-service': trainerServiceConfiguration,
  'order-processor': orderProcessorConfiguration,
  'projection-worker': projectionWorkerConfiguration,
  'sse-gateway': sseGatewayConfiguration,
};

describe('docker-compose.yml', () => {
  it('runs redis, kafka (KRaft), mongo with health checks', () => {
    expect(compose.services.redis?.healthcheck).toBeDefined();
    expect(compose.services.kafka?.image).toMatch(/^apache\/kafka:3\.9/);
    expect(compose.services.kafka?.environment?.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    expect(compose.services.mongo?.image).toMatch(/^mongo:/);
  });

  it.each(APPS.map((spec) => spec.app))(
    'builds %s from the Dockerfile with a configuration the app accepts',
    (app) => {
      const service = compose.services[app];
      expect(service?.build?.args?.APP).toBe(app);
      expect(existsSync(path.join(root, service!.build!.dockerfile))).toBe(true);
      expect(existsSync(path.join(root, 'apps', app, 'src', 'main.ts'))).toBe(true);
      // With the .env the README asks for: the admin token and the JWT secret.
      const config = loadConfiguration(
        configurations[app as keyof typeof configurations],
        interpolate(service!.environment!, {
          ADMIN_TOKEN: 'a'.repeat(20),
          JWT_SECRET: 's'.repeat(40),
        }),
      );
      expect(config).toMatchObject({ HOST: '0.0.0.0', PORT: 3000 });
      for (const server of ['redis', 'kafka', 'mongo'])
        expect(service?.depends_on?.[server]?.condition).toBe('service_healthy');
    },
  );

  it('gives the token secret only to the apps that verify tokens, as the launcher does', () => {
    const withSecret = APPS.filter((spec) => compose.services[spec.app]?.environment?.JWT_SECRET);
    expect(withSecret.map((spec) => spec.app)).toEqual(
      APPS.filter((spec) => spec.verifiesTokens).map((spec) => spec.app),
    );
    expect(withSecret.map((spec) => spec.app)).toEqual([
      'command-api',
      'order-processor',
      'sse-gateway',
    ]);
    // The rest of the shared settings still reach them.
    expect(compose.services['sse-gateway']?.environment?.REDIS_URL).toBe('redis://redis:6379');
  });

  it('passes JWT_PREVIOUS_SECRETS from .env to the apps that verify tokens (a secret rotation)', () => {
    // docs/operations.md "Rotating secrets": every command-api, order-processor and
    // sse-gateway must accept the new secret before any signs with it.
    const old = 'o'.repeat(40);
    const dotEnv = { ADMIN_TOKEN: 'a'.repeat(20), JWT_SECRET: 'n'.repeat(40) };
    for (const spec of APPS.filter((app) => app.verifiesTokens)) {
      const environment = compose.services[spec.app]!.environment!;
      const rotating = loadConfiguration(
        configurations[spec.app as keyof typeof configurations],
        interpolate(environment, { ...dotEnv, JWT_PREVIOUS_SECRETS: old }),
      );
      expect(rotating).toMatchObject({
        JWT_SECRET: dotEnv.JWT_SECRET,
        JWT_PREVIOUS_SECRETS: [old],
      });
      // Unset in .env: none, as before.
      const plain = loadConfiguration(
        configurations[spec.app as keyof typeof configurations],
        interpolate(environment, dotEnv),
      );
      expect(plain).toMatchObject({ JWT_PREVIOUS_SECRETS: [] });
    }
  });

  it('runs the apps as a non-root user from a pnpm deploy bundle', () => {
    const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/pnpm deploy --filter=@causeway\/\$\{APP\} --prod/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(3);
  });
});

/**
 * What Compose makes of `${NAME}`, `${NAME:-default}` and `${NAME:?error}` in a service's
 * environment, given the variables of `.env`.
 */
function interpolate(
  environment: Record<string, string>,
  dotEnv: Record<string, string>,
): Record<string, string> {
  const resolve = (value: string) =>
    value.replace(/\$\{(\w+)(?::([-?])([^}]*))?\}/g, (_match, name: string, operator, arg) => {
      const given = dotEnv[name];
      if (given !== undefined && given !== '') return given;
      if (operator === '?') throw new Error(`${name}: ${arg}`);
      return operator === '-' ? (arg as string) : '';
    });
  return Object.fromEntries(
    Object.entries(environment).map(([name, value]) => [name, resolve(String(value))]),
  );
}
