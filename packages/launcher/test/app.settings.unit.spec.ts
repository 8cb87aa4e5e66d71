import { commandApiConfiguration } from '../../../apps/command-api/src/config/command-api.config';
import { orderProcessorConfiguration } from '../../../apps/order-processor/src/config/order-processor.config';
import { projectionWorkerConfiguration } from '../../../apps/projection-worker/src/config/projection-worker.config';
import { sseGatewayConfiguration } from '../../../apps/sse-gateway/src/config/sse-gateway.config';
import { trainerServiceConfiguration } from '../../../apps/trainer-service/src/config/trainer-service.config';
import { APP_SETTINGS, appSettingsOf, planInstances } from '../src';

// `npm run start:distributed` hands the apps what the plan sets plus APP_SETTINGS from its own
// environment: together they must be every setting an app reads, or one cannot be set there.
describe('APP_SETTINGS', () => {
  const read = new Set(
    [
      commandApiConfiguration,
      orderProcessorConfiguration,
      projectionWorkerConfiguration,
      sseGatewayConfiguration,
      trainerServiceConfiguration,
    ].flatMap((configuration) => Object.keys(configuration.shape)),
  );
  const planned = new Set(
    planInstances(
      { REDIS_URL: 'redis://r:1', KAFKA_BROKERS: 'k:1', MONGODB_URI: 'mongodb://m:1/d' },
      {
        adminToken: 'a'.repeat(16),
        jwtSecret: 'j'.repeat(32),
        jwtPreviousSecrets: 'p'.repeat(32),
        readModelStore: 'mongodb',
      },
    ).flatMap((instance) => Object.keys(instance.env)),
  );

  it('names every setting the apps read that the launcher does not plan', () => {
    expect([...read].filter((name) => !planned.has(name) && !APP_SETTINGS.includes(name))).toEqual(
      [],
    );
  });

  it('names only settings some app reads, none the plan sets', () => {
    expect(APP_SETTINGS.filter((name) => !read.has(name) || planned.has(name))).toEqual([]);
  });
});

describe('appSettingsOf', () => {
  it("passes the app settings, OpenTelemetry's variables and NODE_OPTIONS on, but not each app's service name", () => {
    expect(
      appSettingsOf({
        TOPIC_PREFIX: 'staging-',
        MAX_RETRIES: '',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_SERVICE_NAME: 'everything',
        HOME: '/root',
        REDIS_URL: 'redis://elsewhere:6379',
        NODE_OPTIONS: '--max-old-space-size=512',
      }),
    ).toEqual({
      TOPIC_PREFIX: 'staging-',
      NODE_OPTIONS: '--max-old-space-size=512',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    });
  });
});
