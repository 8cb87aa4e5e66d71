import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

// docs/problems.md documents every problem type the apps answer with (their `type` URIs are
// names, not served pages). A type an app uses and the page does not list fails here.
const root = path.resolve(__dirname, '..', '..', '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) return sources(file);
    return name.endsWith('.ts') && !name.endsWith('.spec.ts') ? [file] : [];
  });
}

/** The problem names used in the apps' sources (problemType('x'), problem(status, 'x', …), reasons), the library filter's and the edge's. */
function usedNames(): Set<string> {
  const names = new Set<string>();
  for (const app of ['command-api', 'sse-gateway', 'order-processor'])
    for (const file of sources(path.join(root, 'apps', app, 'src'))) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/problemType\('([a-z-]+)'\)/g)) names.add(m[1]!);
      for (const m of text.matchAll(/problem\(\s*\d{3},\s*'([a-z-]+)'/g)) names.add(m[1]!);
      // The gateway's admission refusals name their type by their reason.
      for (const m of text.matchAll(/reason: '([a-z-]+)',\s*detail:/g)) names.add(m[1]!);
    }
  // The library's ProblemDetailsFilter answers the library's errors in any Nest app.
  for (const file of sources(path.join(root, 'packages', 'cqrs-core', 'src', 'nest'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/problemType\('([a-z-]+)'\)/g)) names.add(m[1]!);
  }
  // The edge proxy of `npm run start:distributed` answers a few of its own.
  for (const file of sources(path.join(root, 'packages', 'launcher', 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^\s+'(edge-[a-z-]+)': \{/gm)) names.add(m[1]!);
  }
  names.delete('about:blank');
  return names;
}

describe('docs/problems.md', () => {
  const page = readFileSync(path.join(root, 'docs', 'problems.md'), 'utf8');
  const listed = new Set([...page.matchAll(/^\| `([a-z-]+)`/gm)].map((m) => m[1]!));

  it('lists every problem type the apps answer with, and no other', () => {
    const used = usedNames();
    expect(used.size).toBeGreaterThan(10);
    expect([...used].filter((name) => !listed.has(name)).sort()).toEqual([]);
    expect([...listed].filter((name) => !used.has(name)).sort()).toEqual([]);
  });
});
