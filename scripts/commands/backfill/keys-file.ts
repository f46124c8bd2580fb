// The `--keys FILE` of a targeted repair: JSON lines of keys, every bad line named.
import { readFile } from 'node:fs/promises';
import type { TableDef } from '../../../lib/core/config/define.ts';
import type { Key } from '../../../lib/core/types.ts';

/** A key attribute's value as a keys file may give it: a non-empty string or a finite number. */
const keyValue = (v: unknown): v is string | number =>
  (typeof v === 'string' && v !== '') || (typeof v === 'number' && Number.isFinite(v));

/**
 * Reads `--keys FILE`: one JSON object per line with exactly the declared table's key
 * attributes, each a non-empty string or a number (as the table's key schema types them).
 * Every bad line is named with its number.
 */
export async function readKeysFile(
  path: string,
  table: Pick<TableDef, 'name' | 'key'>,
): Promise<Key[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(
      `--keys ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  const names: readonly string[] = table.key;
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
    const bad = names.filter((n) => !keyValue(o[n]));
    if (extra.length || bad.length) {
      problems.push(
        `${where}: ${table.name} keys are ${names.join(', ')} (non-empty strings or numbers)` +
          `${bad.length ? `; missing or not a string or number: ${bad.join(', ')}` : ''}${extra.length ? `; not a key attribute: ${extra.join(', ')}` : ''}`,
      );
      return;
    }
    keys.push(Object.fromEntries(names.map((n) => [n, o[n] as string | number])));
  });
  if (problems.length)
    throw new Error(
      problems.slice(0, 10).join('\n') +
        (problems.length > 10 ? `\n… ${problems.length - 10} more` : ''),
    );
  if (!keys.length) throw new Error(`--keys ${path}: the file names no key`);
  return keys;
}
