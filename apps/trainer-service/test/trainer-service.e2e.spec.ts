import path from 'node:path';
import { describeServiceBasics } from '@causeway/testkit';

describeServiceBasics({
  service: 'trainer-service',
  appDir: path.join(__dirname, '..'),
  servers: ['redis', 'mongodb'],
});
