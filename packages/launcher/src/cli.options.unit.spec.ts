import { parseCliOptions, USAGE } from './cli.options';
import { planInstances } from './system.topology';

describe('parseCliOptions', () => {
  it('defaults: no scaling, apps from port 3000, edge on 8080', () => {
    expect(parseCliOptions([], {})).toEqual({
      scale: {},
      portBase: 3000,
      edgePort: 8080,
      help: false,
    });
  });

  it('reads --scale, --port-base and EDGE_PORT', () => {
    expect(
      parseCliOptions(
        ['--scale', 'sse-gateway=2', '--port-base', '4000', '--scale', 'trainer-service=3'],
        { EDGE_PORT: '9090' },
      ),
    ).toEqual({
      scale: { 'sse-gateway': 2, 'trainer-service': 3 },
      portBase: 4000,
      edgePort: 9090,
      help: false,
    });
  });

  it('asks for the usage with --help or -h, which lists the options and the apps', () => {
    expect(parseCliOptions(['--help'], {}).help).toBe(true);
    expect(parseCliOptions(['--scale', 'sse-gateway=2', '-h'], {}).help).toBe(true);
    expect(USAGE).toContain('--scale app=N');
    expect(USAGE).toContain('--port-base N');
    expect(USAGE).toContain('command-api, trainer-service');
  });

  it('takes the port base from APP_PORT_BASE, the argument winning', () => {
    expect(parseCliOptions([], { APP_PORT_BASE: '5000' }).portBase).toBe(5000);
    expect(parseCliOptions(['--port-base', '6000'], { APP_PORT_BASE: '5000' }).portBase).toBe(6000);
  });

  it('moves every app port with the port base', () => {
    const { portBase } = parseCliOptions(['--port-base', '4100'], {});
    const plan = planInstances(
      { REDIS_URL: 'redis://r:1', KAFKA_BROKERS: 'k:2', MONGODB_URI: 'mongodb://m:3/db' },
      {
        scale: { 'sse-gateway': 2, 'trainer-service': 2 },
        portOffset: portBase - 3000,
        adminToken: 'a-test-admin-token-123',
        jwtSecret: 'a-test-jwt-secret-0123456789-0123456789',
      },
    );
    expect(plan.map((i) => [i.instanceId, i.port, i.env.PORT])).toEqual([
      ['command-api-1', 4100, '4100'],
      ['trainer-service-1', 4101, '4101'],
      ['trainer-service-2', 4111, '4111'],
      ['order-processor-1', 4102, '4102'],
      ['projection-worker-1', 4103, '4103'],
      ['sse-gateway-1', 4104, '4104'],
      ['sse-gateway-2', 4114, '4114'],
    ]);
  });

  it('refuses what is not a port', () => {
    expect(() => parseCliOptions(['--port-base'], {})).toThrow(
      '--port-base expects a port number (1–65535), got ""',
    );
    expect(() => parseCliOptions(['--port-base', '70000'], {})).toThrow('got "70000"');
    expect(() => parseCliOptions([], { APP_PORT_BASE: 'x' })).toThrow('APP_PORT_BASE expects');
    expect(() => parseCliOptions([], { EDGE_PORT: '0' })).toThrow('EDGE_PORT expects');
    expect(() => parseCliOptions(['--scale', 'x'], {})).toThrow('--scale expects app=N');
    expect(() => parseCliOptions(['--scale', 'sse-gateway=2=9'], {})).toThrow(
      '--scale expects app=N, got "sse-gateway=2=9"',
    );
    expect(() => parseCliOptions(['--scale', 'sse_gateway=3'], {})).toThrow(
      '--scale names no app "sse_gateway"; the apps are command-api, trainer-service',
    );
    expect(() => parseCliOptions(['--scale', 'sse-gateway=0'], {})).toThrow(
      '--scale sse-gateway=0: every app needs at least one instance',
    );
    expect(() => parseCliOptions(['--bogus'], {})).toThrow(
      'unknown argument --bogus (--help lists the options)',
    );
  });
});
