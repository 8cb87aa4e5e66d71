import path from 'node:path';
import { describeServiceBasics } from '@causeway/testkit';

describeServiceBasics({
  service: 'order-processor',
  appDir: path.join(__dirname, '..'),
  servers: ['redis', 'kafka', 'mongodb'],
  // Kafka carries the orders (ADR 015): critical, with the order consumer's own checks; the
  // revoked users' cut-offs must be loaded before a read is answered.
  checks: ['order-consumer', 'kafka-consumers', 'token-revocations'],
});
