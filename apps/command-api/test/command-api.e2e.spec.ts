import path from 'node:path';
import { describeServiceBasics } from '@causeway/testkit';

describeServiceBasics({
  service: 'command-api',
  appDir: path.join(__dirname, '..'),
  servers: ['redis', 'kafka'],
  checks: ['token-revocations', 'clock'],
});
