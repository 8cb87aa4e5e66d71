#!/usr/bin/env node
import { deadLettersCli } from './dead-letters.cli';

void deadLettersCli(process.argv.slice(2), {
  env: process.env,
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
}).then((code) => process.exit(code));
