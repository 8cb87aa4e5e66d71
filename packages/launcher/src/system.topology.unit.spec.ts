import { planInstances } from './system.topology';

const servers = { REDIS_URL: 'redis://r:1', KAFKA_BROKERS: 'k:2', MONGODB_URI: 'mongodb://m:3/db' };
const JWT = 'a-test-jwt-secret-0123456789-0123456789';

describe('planInstances', () => {
  it('runs one instance of each of the five apps by default, each with only the servers it needs', () => {
    const plan = planInstances(servers, { adminToken: 'a-test-admin-token-123', jwtSecret: JWT });
    expect(plan.map((i) => [i.instanceId, i.port])).toEqual([
      ['command-api-1', 3000],
      ['trainer-service-1', 3001],
      ['order-processor-1', 3002],
      ['projection-worker-1', 3003],
      ['sse-gateway-1', 3004],
    ]);
    expect(plan[0]!.env).toEqual({
      PORT: '3000',
      HOST: '127.0.0.1',
      INSTANCE_ID: 'command-api-1',
      LOG_LEVEL: 'info',
      ADMIN_TOKEN: 'a-test-admin-token-123',
      JWT_SECRET: JWT,
      DEV_TOKENS: 'false',
      // Behind the edge proxy (on loopback): the client is the address the edge forwards.
      TRUST_PROXY: 'loopback',
      REDIS_URL: 'redis://r:1',
      KAFKA_BROKERS: 'k:2',
    });
    expect(plan.filter((i) => i.env.TRUST_PROXY).map((i) => i.app)).toEqual([
      'command-api',
      'order-processor',
      'sse-gateway',
    ]);
    // The token secret only where tokens are verified: the other apps never see it.
    expect(plan.filter((i) => i.env.JWT_SECRET).map((i) => i.app)).toEqual([
      'command-api',
      'order-processor',
      'sse-gateway',
    ]);
    expect(plan.filter((i) => i.env.DEV_TOKENS).map((i) => i.app)).toEqual(['command-api']);
    const rotating = planInstances(servers, {
      adminToken: 'a-test-admin-token-123',
      jwtSecret: JWT,
      jwtPreviousSecrets: `old-${JWT}`,
    });
    expect(
      rotating.filter((i) => i.env.JWT_PREVIOUS_SECRETS === `old-${JWT}`).map((i) => i.app),
    ).toEqual(['command-api', 'order-processor', 'sse-gateway']);
  });

  it('scales apps to several instances on distinct ports', () => {
    const plan = planInstances(servers, {
      scale: { 'sse-gateway': 2, 'trainer-service': 2 },
      portOffset: 100,
      adminToken: 'a-test-admin-token-123',
      jwtSecret: JWT,
    });
    const gateways = plan.filter((i) => i.app === 'sse-gateway');
    expect(gateways.map((i) => [i.instanceId, i.port])).toEqual([
      ['sse-gateway-1', 3104],
      ['sse-gateway-2', 3114],
    ]);
    expect(new Set(plan.map((i) => i.port)).size).toBe(plan.length);
  });

  it('refuses a port offset that would put an app beyond port 65535', () => {
    expect(() =>
      planInstances(servers, {
        portOffset: 62_532,
        adminToken: 'a-test-admin-token-123',
        jwtSecret: JWT,
      }),
    ).toThrow('sse-gateway-1 would listen on port 65536, outside 1–65535');
  });

  describe('the read-model store', () => {
    const options = { adminToken: 'a-test-admin-token-123', jwtSecret: JWT };
    // Only the gateway: every other app needs MongoDB for its own sake.
    const gatewayOnly = {
      'command-api': 0,
      'trainer-service': 0,
      'order-processor': 0,
      'projection-worker': 0,
    };

    it('runs sse-gateway on Redis alone by default: no MONGODB_URI needed', () => {
      const [gateway, ...others] = planInstances(
        { REDIS_URL: 'redis://r:1' },
        { ...options, scale: gatewayOnly },
      );
      expect(others).toEqual([]);
      expect(gateway!.env).toMatchObject({ REDIS_URL: 'redis://r:1' });
      expect(gateway!.env).not.toHaveProperty('MONGODB_URI');
      expect(gateway!.env).not.toHaveProperty('READ_MODEL_STORE');
    });

    it('still passes MONGODB_URI to sse-gateway when it is set', () => {
      const plan = planInstances(servers, options);
      const gateway = plan.find((i) => i.app === 'sse-gateway')!;
      expect(gateway.env.MONGODB_URI).toBe('mongodb://m:3/db');
      expect(gateway.env).not.toHaveProperty('KAFKA_BROKERS');
    });

    it('gives READ_MODEL_STORE to every app with read models alike, and no other app', () => {
      const plan = planInstances(servers, { ...options, readModelStore: 'mongodb' });
      expect(plan.filter((i) => i.env.READ_MODEL_STORE === 'mongodb').map((i) => i.app)).toEqual([
        'trainer-service',
        'projection-worker',
        'sse-gateway',
      ]);
      expect(plan.filter((i) => 'READ_MODEL_STORE' in i.env)).toHaveLength(3);
    });

    it('needs MONGODB_URI for sse-gateway with READ_MODEL_STORE=mongodb', () => {
      expect(() =>
        planInstances(
          { REDIS_URL: 'redis://r:1' },
          { ...options, scale: gatewayOnly, readModelStore: 'mongodb' },
        ),
      ).toThrow('MONGODB_URI is not set: sse-gateway needs it');
      expect(() =>
        planInstances(
          { REDIS_URL: 'redis://r:1' },
          { ...options, scale: gatewayOnly, readModelStore: 'redis' },
        ),
      ).not.toThrow();
    });
  });

  it('refuses to plan without an admin token', () => {
    expect(() => planInstances(servers)).toThrow('ADMIN_TOKEN is not set');
  });

  it('names the missing server setting', () => {
    expect(() =>
      planInstances(
        { ...servers, KAFKA_BROKERS: undefined },
        { adminToken: 'a-test-admin-token-123', jwtSecret: JWT },
      ),
    ).toThrow('KAFKA_BROKERS is not set: command-api needs it');
  });
});
