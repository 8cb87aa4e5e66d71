import { stopContainers } from './docker.resolver';

/** Stops the containers this run started. Local servers stay up for the next run (infra/local/down stops them). */
export default async function globalTeardown(): Promise<void> {
  await stopContainers();
}
