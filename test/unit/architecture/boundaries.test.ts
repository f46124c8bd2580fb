// The rooms of docs/ARCHITECTURE.md hold only while lint enforces them: each boundary is
// crossed on purpose here and must fail, and the real tree must have no import cycle.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

async function lintAs(filePath: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: ROOT });
  const [result] = await eslint.lintText(code, { filePath: join(ROOT, filePath) });
  return (result?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

describe('import boundaries (lint)', () => {
  const violations: [string, string][] = [
    ['lib/engine/x.ts', "import { seed } from '../../local/seed.ts';"],
    ['lib/infra/constructs/x.ts', "import { seed } from '../../../local/seed.ts';"],
    ['handlers/x.ts', "import { seed } from '../local/seed.ts';"],
    ['lib/engine/x.ts', "import { handler } from '../../handlers/stream-consumer.ts';"],
    ['lib/core/x.ts', "import { DynamoDBClient } from '@aws-sdk/client-dynamodb';"],
    ['lib/core/x.ts', "import { readFileSync } from 'node:fs';"],
    ['lib/core/x.ts', "import { DynamoWriter } from '../adapters/dynamo-writer.ts';"],
    ['lib/core/migrations/x.ts', "import { x } from '../../engine/migrate-items.ts';"],
    ['lib/adapters/x.ts', "import { x } from '../core/migrations/session-sort-key.ts';"],
    ['lib/presets/x.ts', "import { defineTable } from '../core/config/define.ts';"],
    ['lib/presets/x.ts', "import { keyOf } from './../core/keys.ts';"],
  ];
  it.each(violations)('%s: %s fails lint', async (file, code) => {
    const messages = await lintAs(file, `${code}\nexport const y = 1;\n`);
    expect(messages.some((m) => m.startsWith('no-restricted-imports'))).toBe(true);
  });

  it.each([
    ['local/x.ts', "import { keyOf } from '../lib/core/keys.ts';"],
    ['local/x.ts', "import { handler } from '../handlers/stream-consumer.ts';"],
    ['handlers/x.ts', "import { keyOf } from '../lib/core/keys.ts';"],
    ['lib/engine/x.ts', "import { keyOf } from '../core/keys.ts';"],
    ['lib/presets/x.ts', "import { defineTable as keyOf } from '../index.ts';"],
  ])('%s: %s is allowed', async (file, code) => {
    const messages = await lintAs(file, `${code}\nexport const y = keyOf ?? handler;\n`);
    expect(messages.filter((m) => m.startsWith('no-restricted-imports'))).toEqual([]);
  });
});

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

/** Relative imports of a file, resolved to absolute paths (type-only ones included). */
function importsOf(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const specs = [...src.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)];
  return specs.map((m) => resolve(dirname(file), m[1] as string));
}

describe('import graph', () => {
  it('has no cycle in lib/, handlers/, local/ or scripts/', () => {
    const files = ['lib', 'handlers', 'local', 'scripts'].flatMap((d) =>
      sourceFiles(join(ROOT, d)),
    );
    const graph = new Map(files.map((f) => [f, importsOf(f)]));
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (f: string, path: string[]): void => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        const from = path.indexOf(f);
        cycles.push([...path.slice(from), f].map((p) => relative(ROOT, p)).join(' -> '));
        return;
      }
      state.set(f, 'open');
      for (const g of graph.get(f) ?? []) if (graph.has(g)) visit(g, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of files) visit(f, []);
    expect(cycles).toEqual([]);
  });
});
