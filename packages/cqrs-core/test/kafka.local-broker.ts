import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';

/** The broker that infra/local/up started, as a restart of it needs it. */
export interface LocalKafka {
  /** The checkout whose infra/local started it (its data is under `<root>/.infra/kafka`). */
  readonly root: string;
  /** Its client port (KAFKA_BROKERS) and controller port (CAUSEWAY_KAFKA_*_PORT to restart it). */
  readonly port: string;
  readonly controllerPort: string;
}

/** The broker settings localKafkaOf reads (infra/local/kafka/server.properties.template). */
export const LOCAL_KAFKA_CONFIG = ['log.dirs', 'listeners'] as const;
export type LocalKafkaConfig = Partial<Record<(typeof LOCAL_KAFKA_CONFIG)[number], string>>;

/**
 * Where the broker of KAFKA_BROKERS was started from, and on which ports, from its own settings:
 * infra/local/up gives it `log.dirs=<checkout>/.infra/kafka/data` and a PLAINTEXT and a
 * CONTROLLER listener. Nothing is read from this checkout, which may be another one (a git
 * worktree has no `.infra` of its own) than the one that started the broker.
 * @throws Error naming KAFKA_BROKERS and what of the broker is not infra/local's
 */
export function localKafkaOf(
  brokers: readonly string[],
  config: LocalKafkaConfig,
  isCheckout: (root: string) => boolean = (root) =>
    existsSync(path.join(root, 'infra', 'local', 'up')),
): LocalKafka {
  const named = `KAFKA_BROKERS=${brokers.join(',')}`;
  const cannot = (why: string) =>
    new Error(
      `cannot restart Kafka at ${named}: ${why}; only a broker infra/local/up started can be restarted`,
    );
  if (brokers.length !== 1)
    throw cannot(`it names ${brokers.length} brokers, infra/local/up starts one`);
  const logDirs = config['log.dirs'] ?? '';
  const root = /^(\/.*)\/\.infra\/kafka\/data\/?$/.exec(logDirs)?.[1];
  if (!root || !isCheckout(root))
    throw cannot(
      `its log.dirs is ${JSON.stringify(logDirs)}, not <checkout>/.infra/kafka/data of a ` +
        `checkout with infra/local/up`,
    );
  const listeners = config.listeners ?? '';
  const portOf = (name: string) => new RegExp(`(?:^|,)${name}://[^,]*:(\\d+)`).exec(listeners)?.[1];
  const port = portOf('PLAINTEXT');
  const controllerPort = portOf('CONTROLLER');
  if (!port || !controllerPort || !brokers[0]!.endsWith(`:${port}`))
    throw cannot(
      `its listeners are ${JSON.stringify(listeners)}, not a PLAINTEXT one on the port of ` +
        `KAFKA_BROKERS and a CONTROLLER one`,
    );
  return { root, port, controllerPort };
}

/** Asks the broker of `brokers` for its settings: see localKafkaOf. */
export async function findLocalKafka(brokers: readonly string[]): Promise<LocalKafka> {
  const admin = new Kafka({
    clientId: 'local-kafka',
    brokers: [...brokers],
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    const cluster = await admin.describeCluster();
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: cluster.brokers.map(({ nodeId }) => ({
        type: ConfigResourceTypes.BROKER,
        name: String(nodeId),
        configNames: [...LOCAL_KAFKA_CONFIG],
      })),
    });
    const config: LocalKafkaConfig = {};
    for (const { configName, configValue } of resources[0]?.configEntries ?? [])
      config[configName as keyof LocalKafkaConfig] = configValue;
    return localKafkaOf(brokers, config);
  } finally {
    await admin.disconnect();
  }
}
