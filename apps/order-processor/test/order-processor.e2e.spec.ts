import path from 'node:path';
import { describeServiceBasics } from '@causeway/testkit';

describeServiceBasics({
  service: 'order-processor',
  appDir: path.join(__dirname, '..'),
  servers: ['redis', 'kafka', 'mongodb'],
  informational: ['kafka'],
});
