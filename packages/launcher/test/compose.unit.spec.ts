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
  volumes?: string[];
  ports?: string[];
  restart?: string;
  stop_grace_period?: string;
}
const compose = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), {
  merge: true,
}) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
/**
 * The environment the Dockerfile's runtime stage gives every container (`ENV` lines after its
 * last `FROM`): compose's environment adds to it and overrides it.
 */
const imageEnvironment = (() => {
  const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const pairs = [...runtime.matchAll(/^ENV (.+)$/gm)].flatMap((line) => line[1]!.split(/\s+/));
  return Object.fromEntries(pairs.map((pair) => pair.split('=', 2) as [string, string]));
})();
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

  it('advertises Kafka at addresses its clients reach: kafka:9092 to the apps, 127.0.0.1 to this host', () => {
    // A Kafka client connects where the broker's metadata says, not where it bootstrapped: the
    // published port told host clients (operators' kafka-consumer-groups, tests with
    // KAFKA_BROKERS=127.0.0.1:9092) to go to kafka:9092, a name only compose's network knows.
    const kafka = compose.services.kafka!.environment!;
    const byName = (list: string) =>
      new Map(
        list.split(',').map((listener) => {
          const [, name, host, port] = /^(\w+):\/\/([^:]*):(\d+)$/.exec(listener)!;
          return [name!, { host: host!, port: port! }];
        }),
      );
    const listeners = byName(kafka.KAFKA_LISTENERS!);
    const advertised = byName(kafka.KAFKA_ADVERTISED_LISTENERS!);
    const reaching = (containerPort: string) => {
      const name = [...listeners].find(([, listener]) => listener.port === containerPort)?.[0];
      const address = name ? advertised.get(name) : undefined;
      return address && `${address.host}:${address.port}`;
    };
    for (const published of compose.services.kafka!.ports!) {
      const [hostIp, hostPort, containerPort] = published.split(':');
      expect({ published, advertised: reaching(containerPort!) }).toEqual({
        published,
        advertised: `${hostIp}:${hostPort}`,
      });
    }
    for (const spec of APPS.filter(
      (app) => configurations[app.app as keyof typeof configurations],
    )) {
      const brokers = compose.services[spec.app]?.environment?.KAFKA_BROKERS;
      const [host, port] = brokers!.split(':');
      expect({ app: spec.app, advertised: host === 'kafka' ? reaching(port!) : undefined }).toEqual(
        {
          app: spec.app,
          advertised: brokers,
        },
      );
    }
  });

  it("keeps each server's data on its named volume (a recreated container loses nothing)", () => {
    // Where each image writes: redis and mongo by their images' defaults; apache/kafka, configured
    // by environment alone, writes to /tmp/kraft-combined-logs unless KAFKA_LOG_DIRS says otherwise.
    const dataDirectories = {
      redis: '/data',
      mongo: '/data/db',
      kafka: compose.services.kafka?.environment?.KAFKA_LOG_DIRS,
    };
    for (const [server, directory] of Object.entries(dataDirectories)) {
      const volume = `${server}-data`;
      expect(compose.volumes).toHaveProperty([volume]);
      const mounted = (compose.services[server]?.volumes ?? []).some(
        (mount) => mount === `${volume}:${directory}`,
      );
      expect({ server, directory, mounted }).toEqual({ server, directory, mounted: true });
    }
  });

  it('starts every server again by itself, as the apps (a crash, a Docker restart, a reboot)', () => {
    // An app without its servers is only 503s: restarting the apps alone brings nothing back.
    for (const [name, service] of Object.entries(compose.services))
      expect({ name, restart: service.restart }).toEqual({ name, restart: 'unless-stopped' });
  });

  it.each(APPS.map((spec) => spec.app))(
    'gives %s its graceful stop before SIGKILL, as the launcher does',
    (app) => {
      // Docker sends SIGKILL stop_grace_period after SIGTERM (10 s unless set): the app may take
      // SHUTDOWN_TIMEOUT_MS to stop, and the launcher gives it 5 s more to exit.
      const service = compose.services[app]!;
      const config = loadConfiguration(
        configurations[app as keyof typeof configurations],
        interpolate(service.environment!, {
          ADMIN_TOKEN: 'a'.repeat(20),
          JWT_SECRET: 's'.repeat(40),
        }),
      ) as { SHUTDOWN_TIMEOUT_MS: number };
      expect(seconds(service.stop_grace_period ?? '10s')).toBeGreaterThanOrEqual(
        (config.SHUTDOWN_TIMEOUT_MS + 5_000) / 1_000,
      );
    },
  );

  it.each(APPS.map((spec) => spec.app))(
    'builds %s from the Dockerfile with a configuration the app accepts',
    (app) => {
      const service = compose.services[app];
      expect(service?.build?.args?.APP).toBe(app);
      expect(existsSync(path.join(root, service!.build!.dockerfile))).toBe(true);
      expect(existsSync(path.join(root, 'apps', app, 'src', 'main.ts'))).toBe(true);
      // With the .env the README asks for: the admin token and the JWT secret.
      // As the container sees it: NODE_ENV=production from the image (which refuses DEV_TOKENS).
      expect(imageEnvironment).toMatchObject({ NODE_ENV: 'production' });
      const config = loadConfiguration(configurations[app as keyof typeof configurations], {
        ...imageEnvironment,
        ...interpolate(service!.environment!, {
          ADMIN_TOKEN: 'a'.repeat(20),
          JWT_SECRET: 's'.repeat(40),
        }),
      });
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

  it('tells Docker users a token command that runs in the command-api container', () => {
    // The README's only one needed pnpm, an install and a build on the host, which a Docker
    // user does not have: the image's bundle holds the CLI and the container the secret.
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    const command = /`docker compose exec command-api node (\S+) <user>`/.exec(readme);
    expect(command?.[1]).toBeDefined();
    const manifest = JSON.parse(
      readFileSync(path.join(root, 'apps', 'command-api', 'package.json'), 'utf8'),
    ) as { files: string[]; scripts: Record<string, string> };
    expect(manifest.scripts.token).toBe(`node ${command![1]}`);
    expect(manifest.files).toContain(command![1]!.split('/')[0]);
    const source = command![1]!.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts');
    expect(existsSync(path.join(root, 'apps', 'command-api', source))).toBe(true);
    expect(compose.services['command-api']?.environment?.JWT_SECRET).toBeDefined();
  });

  it('runs the apps as a non-root user from a pnpm deploy bundle', () => {
    const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/pnpm deploy --filter=@causeway\/\$\{APP\} --prod/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(3);
  });
});

/** A Compose duration (`15s`, `1m30s`, `500ms`) in seconds. */
function seconds(duration: string): number {
  const units: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001, us: 1e-6 };
  const parts = [...duration.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us)/g)];
  expect(parts.map((part) => part[0]).join('')).toBe(duration);
  return parts.reduce((sum, [, value, unit]) => sum + Number(value) * units[unit!]!, 0);
}

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
