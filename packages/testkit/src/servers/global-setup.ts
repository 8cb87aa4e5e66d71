import { resolveServers } from './servers.resolver';

/** jest globalSetup of the `int` project: real servers for every integration test file. */
export default async function globalSetup(): Promise<void> {
  await resolveServers();
}
