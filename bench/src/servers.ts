import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnvFile, repositoryRoot } from '@causeway/testkit';

export interface Servers {
  redisUrl: string;
  kafkaBrokers: string[];
  mongoUri: string;
}

/**
 * The servers to measure against: the exported REDIS_URL / KAFKA_BROKERS / MONGODB_URI
 * (scripts/bench.sh exports them), else the ones infra/local/up wrote to .infra/env.
 * Only loopback addresses are accepted: a benchmark must not load a shared server by accident.
 */
export function servers(): Servers {
  const file = path.join(repositoryRoot(), '.infra', 'env');
  const written = existsSync(file) ? parseEnvFile(readFileSync(file, 'utf8')) : {};
  const pick = (name: string): string => {
    const value = process.env[name] ?? written[name];
    if (!value) throw new Error(`${name} is not set: run through scripts/bench.sh (npm run bench)`);
    // `scheme://[user@]host:port[,host:port…][/path][?options]` or `host:port[,host:port…]`.
    const hosts =
      value
        .replace(/^[a-z+]+:\/\//, '')
        .replace(/^[^@/]*@/, '')
        .split(/[/?]/)[0] ?? '';
    for (const host of hosts.split(',')) {
      const hostname = host.trim().replace(/:\d+$/, '');
      if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(hostname))
        throw new Error(`${name}=${value} is not a loopback address; benchmarks only run locally`);
    }
    process.env[name] = value;
    return value;
  };
  return {
    redisUrl: pick('REDIS_URL'),
    kafkaBrokers: pick('KAFKA_BROKERS')
      .split(',')
      .map((b) => b.trim()),
    mongoUri: pick('MONGODB_URI'),
  };
}
