import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { localKafkaOf } from './kafka.local-broker';

// The Kafka conformance suite restarts the broker of infra/local. It read the ports from
// `.infra/kafka/port` of the checkout running the test: from a git worktree, or any checkout
// but the one that started the broker, the file was not there (ENOENT, nothing named).
describe('localKafkaOf', () => {
  let checkout: string;
  beforeAll(() => {
    checkout = mkdtempSync(path.join(tmpdir(), 'causeway-checkout-'));
    mkdirSync(path.join(checkout, 'infra', 'local'), { recursive: true });
    writeFileSync(path.join(checkout, 'infra', 'local', 'up'), '#!/bin/sh\n');
  });
  afterAll(() => rmSync(checkout, { recursive: true, force: true }));

  /** What infra/local/kafka/server.properties.template makes of the ports and the checkout. */
  const settings = (root: string, port = 19092, controller = 19093) => ({
    'log.dirs': `${root}/.infra/kafka/data`,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controller}`,
  });

  it("finds the checkout that started the broker and its ports from the broker's settings", () => {
    // Another checkout than this one: nothing of this checkout's `.infra` is read.
    expect(localKafkaOf(['127.0.0.1:29092'], settings(checkout, 29092, 29093))).toEqual({
      root: checkout,
      port: '29092',
      controllerPort: '29093',
    });
  });

  it('refuses, naming KAFKA_BROKERS, a broker infra/local/up did not start', () => {
    const refused = (brokers: string[], config: Record<string, string>, why: string) =>
      expect(() => localKafkaOf(brokers, config)).toThrow(
        `cannot restart Kafka at KAFKA_BROKERS=${brokers.join(',')}: ${why}`,
      );
    refused(
      ['127.0.0.1:19092', '127.0.0.1:29092'],
      settings(checkout),
      'it names 2 brokers, infra/local/up starts one',
    );
    refused(
      ['kafka:9092'],
      { ...settings(checkout), 'log.dirs': '/var/lib/kafka/data' },
      'its log.dirs is "/var/lib/kafka/data", not <checkout>/.infra/kafka/data',
    );
    const elsewhere = path.join(checkout, 'not-a-checkout');
    refused(['127.0.0.1:19092'], settings(elsewhere), `its log.dirs is "${elsewhere}/.infra`);
    refused(['127.0.0.1:19092'], { 'log.dirs': settings(checkout)['log.dirs'] }, 'its listeners');
    refused(
      ['127.0.0.1:29092'],
      settings(checkout),
      'its listeners are "PLAINTEXT://127.0.0.1:19092',
    );
    refused(
      ['127.0.0.1:19092'],
      { ...settings(checkout), listeners: 'PLAINTEXT://127.0.0.1:19092' },
      'its listeners are "PLAINTEXT://127.0.0.1:19092", not a PLAINTEXT one on the port of ' +
        'KAFKA_BROKERS and a CONTROLLER one; only a broker infra/local/up started can be restarted',
    );
  });
});
