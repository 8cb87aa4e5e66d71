import path from 'node:path';
import { describeServiceBasics } from '@causeway/testkit';

describeServiceBasics({
  service: 'trainer-service',
  appDir: path.join(__dirname, '..'),
  servers: ['redis', 'mongodb'],
  // Up once its stores are ready and it has joined the command group.
  checks: ['trainer-commands', 'clock'],
});
