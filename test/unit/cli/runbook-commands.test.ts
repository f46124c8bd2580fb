// Every `streamfill …` the runbook and the README tell an operator to type goes through the CLI's
// own parser (commands, flags and their values), so the docs and the CLI cannot drift apart.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../../scripts/program.ts';

const read = (file: string) => readFileSync(new URL(`../../../${file}`, import.meta.url), 'utf8');

/** Shell blocks (sh, bash or no language) and the prose around every fenced block. */
function split(markdown: string): { shell: string[]; prose: string } {
  const shell: string[] = [];
  let prose = '';
  let fence: { lang: string; body: string } | undefined;
  for (const line of markdown.split('\n')) {
    const open = /^\s*```(\w*)\s*$/.exec(line);
    if (open && !fence) fence = { lang: open[1]!, body: '' };
    else if (open && fence) {
      if (['', 'sh', 'bash'].includes(fence.lang)) shell.push(fence.body);
      fence = undefined;
    } else if (fence) fence.body += `${line}\n`;
    else prose += `${line}\n`;
  }
  return { shell, prose };
}

/** The `streamfill …` invocations of a Markdown text: shell blocks and inline code. */
export function streamfillLines(markdown: string): string[] {
  const lines: string[] = [];
  const { shell, prose } = split(markdown);
  for (const block of shell) {
    for (const line of block.replace(/\\\n\s*/g, ' ').split('\n')) {
      for (const m of line.matchAll(/(?:^|[\s"(])(?:npx )?streamfill (?=[a-z-])([^#|;)]*)/g))
        lines.push(m[1]!.trim());
    }
  }
  for (const m of prose.matchAll(/`(?:npx )?streamfill ([a-z][^`]*)`/g)) lines.push(m[1]!.trim());
  return lines;
}

/** Shell words, with variables, command substitutions and `<placeholders>` made plain values. */
function words(line: string): string[] {
  const plain = line
    .replace(/\$\([^)]*\)/g, 'x')
    .replace(/\$\{?\w+\}?/g, 'x')
    .replace(/<[^>]+>/g, 'x');
  return [...plain.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

/** Parses `streamfill <args>` with every action replaced: only the parser runs. */
async function parse(args: string[]): Promise<void> {
  const argv = ['node', 'streamfill', ...args];
  const program = await buildProgram(argv, { checks: false });
  const quiet = (c: Command) => {
    c.exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    c.action(() => {});
    c.commands.forEach(quiet);
  };
  quiet(program);
  await program.parseAsync(argv);
}

async function problems(lines: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const line of lines) {
    try {
      await parse(words(line));
    } catch (e) {
      found.push(`streamfill ${line}: ${(e as Error).message}`);
    }
  }
  return found;
}

describe('the docs against the CLI parser', () => {
  it('every streamfill line of the runbook parses, flags and values included', async () => {
    const lines = streamfillLines(read('docs/runbook.md'));
    expect(lines.length).toBeGreaterThan(20);
    expect(lines).toContain('backfill --rate 200');
    expect(await problems(lines)).toEqual([]);
  });

  it("every streamfill command line of the README's examples parses", async () => {
    // The CLI section's synopsis (`[--flag N]`, `a|b`) is checked flag by flag below.
    const readme = read('README.md').replace(/## The CLI\n[\s\S]*?```\n[\s\S]*?```/, '');
    const lines = streamfillLines(readme).filter((l) => !/[[|]/.test(l));
    expect(lines.length).toBeGreaterThan(5);
    expect(await problems(lines)).toEqual([]);
  });

  it("every flag of the README's CLI synopsis is an option of that command", async () => {
    const synopsis = /## The CLI\n[\s\S]*?```\n([\s\S]*?)```/.exec(read('README.md'))![1]!;
    const program = await buildProgram([], { checks: false });
    const missing: string[] = [];
    let current: Command | undefined;
    for (const line of synopsis.split('\n')) {
      const head = /^streamfill ([a-z]+)(?: ([a-z]+)(?=[\s|]))?/.exec(line);
      if (head) {
        const cmd = program.commands.find((c) => c.name() === head[1]);
        const sub = head[2] && cmd?.commands.find((c) => c.name() === head[2]);
        current = sub || cmd;
        if (!cmd && !line.startsWith('streamfill --')) missing.push(`no command ${head[1]}`);
      }
      const flagText = line.split(/\s{3,}/)[0]!;
      for (const [flag] of flagText.matchAll(/--[a-z][a-z-]*/g)) {
        const owners = [current, current?.parent].filter(Boolean) as Command[];
        const known =
          flag === '--version' ||
          owners.some((c) =>
            c.options.some((o) => o.long === flag || o.long === `--no-${flag.slice(2)}`),
          );
        if (!known) missing.push(`${current?.name() ?? '?'} ${flag}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('a line the CLI does not know is caught (the check can fail)', async () => {
    expect(await problems(['backfill --no-such-flag', 'status --watch -1', 'verfiy'])).toHaveLength(
      3,
    );
  });
});
