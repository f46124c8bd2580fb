// How the CLI writes for people and for scripts: colour only on a terminal that wants it
// (NO_COLOR, https://no-color.org, and a piped stdout get plain text), tables built the same way
// by every command.
import Table from 'cli-table3';

/** Colour on stdout: a terminal, NO_COLOR unset or empty, TERM not `dumb`, no `CI` variable. */
export function colorEnabled(
  stream: { isTTY?: boolean } = process.stdout,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  // A CI log is plain text; cli-table3's colour library decides the same, so say it here too.
  if (env.CI !== undefined) return false;
  return Boolean(stream.isTTY);
}

/** A cli-table3 table with these headings; its borders and headings are coloured only when allowed. */
export function newTable(head: string[], color: boolean = colorEnabled()): Table.Table {
  return new Table({ head, ...(!color && { style: { head: [], border: [] } }) });
}

/** Where `--json` sends its document: stdout (`--json`, `--json -`), a file, or nowhere. */
export type JsonTarget = { kind: 'stdout' } | { kind: 'file'; path: string } | undefined;

/** `--json` (true), `--json -` and `--json FILE` (the backfill contract's file form). */
export function jsonTarget(value: unknown): JsonTarget {
  if (value === undefined || value === false) return undefined;
  if (value === true || value === '-') return { kind: 'stdout' };
  return { kind: 'file', path: String(value) };
}

/**
 * A command's `--json` run: while the JSON goes to stdout, its human lines (`console.log`) go to
 * stderr, so stdout is exactly one JSON document a script can parse. `emit` writes it;
 * `restore` puts console.log back (call it in a `finally`).
 */
export function jsonOutput(target: JsonTarget): {
  emit(value: unknown): Promise<void>;
  restore(): void;
} {
  const log = console.log;
  if (target?.kind === 'stdout') console.log = (...args: unknown[]) => console.error(...args);
  return {
    async emit(value) {
      const text = `${JSON.stringify(value, null, 2)}\n`;
      if (target?.kind === 'stdout') process.stdout.write(text);
      else if (target?.kind === 'file') {
        const { writeFile } = await import('node:fs/promises');
        await writeFile(target.path, text);
      }
    },
    restore() {
      console.log = log;
    },
  };
}
