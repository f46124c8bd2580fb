// The `--keys FILE` of a targeted repair: JSON lines of keys, every bad line named.
import { readFile } from 'node:fs/promises';
import type { MigratedTable } from '../../../lib/core/migrations/index.ts';
import { KEY_ATTRIBUTES, type Key } from '../../../lib/core/types.ts';

/**
 * Reads `--keys FILE`: one JSON object per line with exactly the table's key attributes as
 * non-empty strings. Every bad line is named with its number.
 */
export async function readKeysFile(path: string, table: MigratedTable): Promise<Key[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(
      `--keys ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  const names = KEY_ATTRIBUTES[table] as readonly string[];
  const keys: Key[] = [];
  const problems: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const where = `--keys ${path} line ${i + 1}`;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      problems.push(`${where}: not JSON`);
      return;
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      problems.push(
        `${where}: must be a JSON object like ${JSON.stringify(Object.fromEntries(names.map((n) => [n, '…'])))}`,
      );
      return;
    }
    const o = v as Record<string, unknown>;
    const extra = Object.keys(o).filter((k) => !names.includes(k));
    const bad = names.filter((n) => typeof o[n] !== 'string' || o[n] === '');
    if (extra.length || bad.length) {
      problems.push(
        `${where}: ${table} keys are ${names.join(', ')} (non-empty strings)` +
          `${bad.length ? `; missing or not a string: ${bad.join(', ')}` : ''}${extra.length ? `; not a key attribute: ${extra.join(', ')}` : ''}`,
      );
      return;
    }
    keys.push(Object.fromEntries(names.map((n) => [n, o[n] as string])));
  });
  if (problems.length)
    throw new Error(
      problems.slice(0, 10).join('\n') +
        (problems.length > 10 ? `\n… ${problems.length - 10} more` : ''),
    );
  if (!keys.length) throw new Error(`--keys ${path}: the file names no key`);
  return keys;
}
