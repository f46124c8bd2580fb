// The operator CLI as an operator runs it: `node bin/streamfill.js …` as a child process.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to its end; a non-zero exit is a result, not a throw. */
export async function runCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<CliResult> {
  try {
    const { stdout, stderr } = await execFileP('node', ['bin/streamfill.js', ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** Starts the CLI (to signal or kill it); `done` resolves with its exit code and output. */
export function startCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): {
  child: ChildProcess;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  out: () => string;
} {
  const child = spawn('node', ['bin/streamfill.js', ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let both = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
    both += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
    both += d.toString();
  });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done, out: () => both };
}

/** stderr without the target line every AWS command prints first (`streamfill: target …`). */
export function stderrBeyondTarget(stderr: string): string {
  return stderr.replace(/^streamfill: target [^\n]*\n/, '');
}
