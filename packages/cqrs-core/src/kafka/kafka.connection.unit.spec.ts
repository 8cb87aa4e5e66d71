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
