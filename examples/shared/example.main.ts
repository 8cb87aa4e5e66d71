/* eslint-disable no-console -- an example's output is its console */
import { type ExampleOptions } from './example.options';
import { chooseStore } from './store.choice';

/**
 * What each main.ts does: choose the store from the command line and the environment, run the
 * example printing every step, and exit 0 — or print the error and exit 1.
 */
export function runMain(run: (options: ExampleOptions) => Promise<unknown>): void {
  const started = (async () => {
    const options = chooseStore(process.argv.slice(2), process.env);
    await run({ ...options, print: (line) => console.log(line) });
  })();
  started.catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
