import path from 'node:path';
import { describeServiceBasics } from '@causeway/testkit';

describeServiceBasics({
  service: 'order-processor',
  appDir: path.join(__dirname, '..'),
  servers: ['redis', 'kafka', 'mongodb'],
  // Kafka carries the orders (ADR 015): critical, with the order consumer's own checks.
  checks: ['order-consumer', 'kafka-consumers'],
});
