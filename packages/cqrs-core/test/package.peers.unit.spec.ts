import { readFileSync } from 'node:fs';
import path from 'node:path';

// An application installs what the guide's table of entries tells it to, and npm checks the
// versions of peers only: the table and peerDependencies must name the same packages.
const root = path.join(__dirname, '..');
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
};
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
const table = readme.slice(
  readme.indexOf('| Entry'),
  readme.indexOf('\n\n', readme.indexOf('| Entry')),
);
const installColumn = table
  .split('\n')
  .slice(2)
  .map((row) => row.split('|')[3] ?? '')
  .join(' ');
// Package names only: the column also names functions (`bootstrapService`) and, for the
// testing entry, a runner's globals (`describe`).
const named = new Set(
  [...installColumn.matchAll(/`([@a-z][\w./@-]*)`/g)]
    .map((m) => m[1]!)
    .filter((name) => name === name.toLowerCase() && !['describe', 'it', 'expect'].includes(name)),
);

describe('the optional peer dependencies of @causeway/cqrs-core', () => {
  const optional = Object.keys(manifest.peerDependencies).filter(
    (name) => manifest.peerDependenciesMeta[name]?.optional === true,
  );

  it('are the packages the guide tells an application to install for an entry', () => {
    expect([...named].sort()).toEqual([...optional].sort());
  });

  it('include the HTTP platform bootstrapService starts (Nest only loads it at run time)', () => {
    // Without it NestFactory.create exits the process: "No driver (HTTP) has been selected".
    expect(optional).toContain('@nestjs/platform-express');
  });
});
