import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// Every ```ts sample of README.md must be a `// #region guide:<name>` of a file in this
// directory, and every such region must appear in the README. Whitespace and trailing commas
// are ignored: prettier re-wraps the samples at their README indentation.
const here = __dirname;
const readme = readFileSync(join(here, '..', '..', 'README.md'), 'utf8');

function normalize(code: string): string {
  return code.replace(/,(\s*[)\]}])/g, '$1').replace(/\s+/g, '');
}

function regions(): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of readdirSync(here).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(join(here, file), 'utf8');
    for (const match of text.matchAll(
      /\/\/ #region guide:([\w-]+)\n([\s\S]*?)\n\s*\/\/ #endregion/g,
    )) {
      found.set(`${file}:${match[1]}`, match[2]!);
    }
  }
  return found;
}

describe('README.md samples', () => {
  const samples = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const all = regions();

  it('has samples and regions', () => {
    expect(samples.length).toBeGreaterThan(20);
    expect(all.size).toBe(samples.length);
  });

  it.each([...all.entries()])('quotes region %s', (_name, code) => {
    expect(samples.map(normalize)).toContain(normalize(code));
  });

  // The guide's introduction points a reader to the runnable examples: it names every one
  // (06-documents, S4, was added without it and the guide still spoke of five).
  it('names every runnable example', () => {
    const examples = readdirSync(join(here, '..', '..', '..', '..', 'examples')).filter((name) =>
      /^\d\d-/.test(name),
    );
    expect(examples.length).toBeGreaterThan(5);
    const intro = readme.slice(0, readme.indexOf('## Contents'));
    for (const example of examples) expect(intro).toContain(`\`${example}\``);
  });
});
