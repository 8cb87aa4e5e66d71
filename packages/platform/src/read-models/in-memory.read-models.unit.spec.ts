import { describeGroupMembers } from './group-members.conformance';
import { InMemoryGroupMembers } from './in-memory.group-members';
import { InMemoryTrainerPositions } from './in-memory.trainer-positions';
import { describeTrainerPositions } from './trainer-positions.conformance';

describeTrainerPositions('in-memory', async () => new InMemoryTrainerPositions());
describeGroupMembers('in-memory', async () => new InMemoryGroupMembers());
