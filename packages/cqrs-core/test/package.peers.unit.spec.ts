import { readFileSync } from 'node:fs';
import path from 'node:path';

// An application installs what the guide's table of entries tells it to, and npm checks the
// versions of peers only: the table and peerDependencies must name the same packages.
const root = path.join(__dirname, '..');
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
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

describe('the required peer dependencies of @causeway/cqrs-core', () => {
  const required = Object.keys(manifest.peerDependencies).filter(
    (name) => manifest.peerDependenciesMeta[name]?.optional !== true,
  );

  // ADR 001 (session 40 addendum): a library whose objects cross the public API is the
  // application's. A pinned prom-client gave an app on another 15.x a second copy, whose
  // Registry was not the one the library's metrics were registered in.
  it('take prom-client (the Registry an application passes) from 15.0.0, pinned for the build only', () => {
    expect(manifest.dependencies['prom-client']).toBeUndefined();
    expect(manifest.peerDependencies['prom-client']).toBe('^15.0.0');
    expect(manifest.devDependencies['prom-client']).toMatch(/^15\.\d+\.\d+$/);
  });

  it('are the packages the install command of the guide names', () => {
    const install = readme.match(
      /^npm install \.\/causeway-cqrs-core-[\d.]+\.tgz (.*?)\s*(#.*)?$/m,
    );
    expect(install?.[1]?.split(/\s+/).sort()).toEqual([...required].sort());
  });
});
