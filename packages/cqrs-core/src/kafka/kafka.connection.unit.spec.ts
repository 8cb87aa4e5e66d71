import { createServer, type Server, type Socket } from 'node:net';
import { Registry } from 'prom-client';
import { checkKafkaBrokers, kafkaConnection } from './kafka.connection';

describe('kafkaConnection brokers', () => {
  it.each([
    [
      'a string instead of a list',
      'not a broker list',
      /options\.brokers must be a non-empty array/,
    ],
    ['an empty list', [], /options\.brokers must be a non-empty array/],
    [
      'words',
      ['not a broker list'],
      /options\.brokers entry "not a broker list" is not "host:port"/,
    ],
    ['no port', ['kafka'], /entry "kafka" is not "host:port"/],
    ['port 0', ['kafka:0'], /entry "kafka:0"/],
    ['a port above 65535', ['kafka:70000'], /entry "kafka:70000"/],
    ['a URL', ['kafka://k:9092'], /entry "kafka:\/\/k:9092"/],
    ['a comma-separated entry', ['a:1,b:2'], /entry "a:1,b:2".*split a comma-separated list/],
    ['a good and a bad entry', ['a:1', ' b:2'], /entry " b:2"/],
    ['a number', [9092], /entry 9092/],
  ])('refuses %s at construction, naming `brokers` and the entry', (_, brokers, message) => {
    const build = () =>
      kafkaConnection({ brokers: brokers as unknown as string[], clientId: 'unit' });
    expect(build).toThrow(TypeError);
    expect(build).toThrow(message);
  });

  it('accepts host names, IPv4 addresses and several brokers, without network I/O', () => {
    expect(() =>
      checkKafkaBrokers([
        'localhost:9092',
        '10.0.0.7:19092',
        'kafka-0.kafka.svc.cluster.local:9093',
      ]),
    ).not.toThrow();
    const connection = kafkaConnection({ brokers: ['127.0.0.1:1'], clientId: 'unit' });
    expect(connection.target).toBe('127.0.0.1:1');
  });
});

/**
 * causeway_connection_up{server="kafka"} must be 0 while no broker answers. The broker here is a
 * real TCP server that accepts connections and never answers a request (a hung broker, or a load
 * balancer in front of a dead one); kafkajs still emits its CONNECT event for it.
 */
describe('kafkaConnection causeway_connection_up', () => {
  let server: Server;
  const sockets: Socket[] = [];
  let port = 0;
  beforeAll(async () => {
    server = createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('is 0 while the broker accepts connections and never answers', async () => {
    const registry = new Registry();
    const connection = kafkaConnection({
      brokers: [`127.0.0.1:${port}`],
      clientId: 'unit',
      registry,
      requestTimeoutMs: 1_000,
      connectionTimeoutMs: 1_000,
      config: { retry: { retries: 0 } },
    });
    await expect(connection.open()).rejects.toThrow();
    await expect(connection.check()).rejects.toThrow();
    const text = await registry.getSingleMetricAsString('causeway_connection_up');
    await connection.close().catch(() => undefined);
    expect(text).toContain('causeway_connection_up{server="kafka"} 0');
  }, 30_000);
});
