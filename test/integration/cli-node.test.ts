// The CLI on every supported Node: the real binary against the local services prints no SDK
// Node-version notice (the integration project silences it for its own workers; the child
// process here gets the operator's environment, without that switch).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ensureLambdaNode } from '../../local/lambda-node.ts';
import { SDK_NODE_WARNING_SWITCH } from '../../scripts/node-support.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';

useLocalServices('cli-node');

async function seedWith(node: string): Promise<{ code: number; stderr: string; stdout: string }> {
  const env = { ...process.env };
  delete env[SDK_NODE_WARNING_SWITCH];
  const p = uniqueName('node');
  const args = ['bin/streamfill.js', 'seed', '--sessions', '1', '--users', '1'];
  const tables = ['--session-table', `${p}-s`, '--user-table', `${p}-u`, '--tag-table', `${p}-t`];
  try {
    const r = await promisify(execFile)(node, [...args, ...tables], { env });
    return { code: 0, ...r };
  } catch (e) {
    return e as { code: number; stderr: string; stdout: string };
  }
}

describe('the CLI on a supported Node', () => {
  it(`is quiet on this machine's Node (${process.version})`, async () => {
    const r = await seedWith(process.execPath);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('NodeVersionSupportWarning');
    expect(r.stderr).not.toMatch(/Warning/);
  });

  it("is quiet on the Lambda runtime's Node 22", async () => {
    const r = await seedWith(await ensureLambdaNode());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/Warning/);
  });
});
