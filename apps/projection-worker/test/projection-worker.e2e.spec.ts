import path from 'node:path';
import { describeServiceBasics } from '@causeway/testkit';

describeServiceBasics({
  service: 'projection-worker',
  appDir: path.join(__dirname, '..'),
  servers: ['redis', 'kafka', 'mongodb'],
  informational: ['kafka'],
  checks: ['read-models'],
});
