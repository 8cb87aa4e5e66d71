import { type TestNamespace, testNamespace } from '@causeway/testkit';
import { type GroupMembers, type TrainerPosition, type TrainerPositions } from '../src';
import { describeGroupMembers, describeTrainerPositions } from '../src/testing';

/** How a read-models spec reaches its server: a client for the file, and stores on it. */
export interface ReadModelsServer<C> {
  /** Opens the file's client (before its tests). */
  open(ns: TestNamespace): Promise<C> | C;
  /** Removes what the file stored and closes the client (after its tests). */
  close(client: C, ns: TestNamespace): Promise<void>;
  /** Trainer positions under names no other test uses (`fresh`: unique in the file). */
  positions(client: C, fresh: string, ns: TestNamespace): Promise<TrainerPositions>;
  /** Group members under names no other test uses. */
  groups(client: C, fresh: string, ns: TestNamespace): Promise<GroupMembers>;
}

/**
 * The set-up the read models' specs share: a namespace of the file's own, its client opened
 * before its tests and cleaned up after them, and both conformance suites on stores under fresh
 * names each. Returns the client and a source of fresh names for the file's own tests.
 */
export function readModelsOn<C>(
  backend: string,
  server: ReadModelsServer<C>,
): { client: () => C; fresh: () => string; ns: TestNamespace } {
  const ns = testNamespace('readmodels');
  let client: C | undefined;
  let run = 0;
  const opened = () => {
    if (client === undefined) throw new Error(`the ${backend} client is not open yet`);
    return client;
  };
  const fresh = () => String(run++);

  beforeAll(async () => {
    client = await server.open(ns);
  });
  afterAll(async () => {
    if (client !== undefined) await server.close(client, ns);
  });

  describeTrainerPositions(backend, () => server.positions(opened(), fresh(), ns));
  describeGroupMembers(backend, () => server.groups(opened(), fresh(), ns));
  return { client: opened, fresh, ns };
}

/** ash's position at `version` (x = version), standing still, updated at `updatedAt`. */
export function positionRow(
  version: number,
  updatedAt = 1_700_000_000_000 + version,
): TrainerPosition {
  return {
    trainerId: 'ash',
    x: version,
    y: 0,
    isMoving: false,
    dirX: 0,
    dirY: 0,
    speed: 0,
    startedAt: 0,
    version,
    updatedAt,
  };
}
