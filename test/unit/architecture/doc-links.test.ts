// The docs cite only what the repository holds: every relative link in the README and docs/
// resolves, and every mention of the design note points at docs/DESIGN.md.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).map((f) => `docs/${f}`)].filter((f) =>
  f.endsWith('.md'),
);

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(join(dir, e.name))
      : e.name.endsWith('.ts')
        ? [join(dir, e.name)]
        : [],
  );
}

describe('documentation links', () => {
  it('every relative link of the README and docs/ resolves to a file in the repository', () => {
    for (const doc of DOCS) {
      const text = readFileSync(join(ROOT, doc), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const path = join(ROOT, dirname(doc), target!);
        expect(existsSync(path), `${doc} → ${target}`).toBe(true);
        expect(relative(ROOT, path).startsWith('..'), `${doc} → ${target}`).toBe(false);
      }
    }
  });

  it('the design note exists, and code cites it by its path', () => {
    expect(existsSync(join(ROOT, 'docs/DESIGN.md'))).toBe(true);
    for (const file of ['lib', 'scripts', 'handlers', 'local'].flatMap(sources)) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const m of text.matchAll(/(\S*)DESIGN\.md/g)) {
        expect(m[1], `${file}: ${m[0]}`).toMatch(/docs\/$/);
      }
    }
  });
});
