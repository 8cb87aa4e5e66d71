#!/usr/bin/env node
import { deadLettersCli } from './dead-letters.cli';

void deadLettersCli(process.argv.slice(2), {
  env: process.env,
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
}).then((code) => {
  // Exits once what was written has left: into a pipe (`list | jq`) stdout is written
  // asynchronously, and exiting at once cut the output at 64 KiB (invalid JSON, exit code 0).
  // The empty writes' callbacks run after every earlier write of their stream.
  process.exitCode = code;
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
});
