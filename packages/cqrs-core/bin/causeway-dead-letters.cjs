#!/usr/bin/env node
// The CLI lives in dist/ (built); this file exists before the build, so installing the
// workspace can link the command without warnings. Build first: pnpm exec turbo run build.
try {
  require('../dist/cli/causeway-dead-letters.js');
} catch (error) {
  if (
    error &&
    error.code === 'MODULE_NOT_FOUND' &&
    String(error.message).includes('causeway-dead-letters')
  ) {
    process.stderr.write(
      'causeway-dead-letters: not built yet; run `pnpm exec turbo run build` first\n',
    );
    process.exit(2);
  }
  throw error;
}
