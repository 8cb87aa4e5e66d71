import { describeNotificationLog } from '../testing';
import { InMemoryNotificationLog } from './in-memory.notification-log';

describeNotificationLog(
  'in-memory',
  { trimSlack: 0 },
  async (options) => new InMemoryNotificationLog(options),
);
