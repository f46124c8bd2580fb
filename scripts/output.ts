// How the CLI writes for people and for scripts: colour only on a terminal that wants it
// (NO_COLOR, https://no-color.org, and a piped stdout get plain text), tables built the same way
// by every command.
import Table from 'cli-table3';

/** Colour on stdout: a terminal, NO_COLOR unset or empty, TERM not `dumb`. */
export function colorEnabled(
  stream: { isTTY?: boolean } = process.stdout,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return Boolean(stream.isTTY);
}

/** A cli-table3 table with these headings; its borders and headings are coloured only when allowed. */
export function newTable(head: string[], color: boolean = colorEnabled()): Table.Table {
  return new Table({ head, ...(!color && { style: { head: [], border: [] } }) });
}
