import path from 'node:path';
import { describeServiceBasics } from '@causeway/testkit';

describeServiceBasics({
  service: 'sse-gateway',
  appDir: path.join(__dirname, '..'),
  servers: ['redis', 'mongodb'],
});
