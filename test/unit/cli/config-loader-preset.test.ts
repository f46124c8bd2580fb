// `--preset NAME` (seed): the named built-in preset is the config, whatever file the directory
// has; naming a config file too is refused before anything is read.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigLoadError, loadPlanner } from '../../../scripts/config-loader.ts';

describe('loadPlanner with a preset', () => {
  it('compiles the named preset, not the default file of the working directory', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'streamfill-preset-'));
    writeFileSync(join(cwd, 'streamfill.config.ts'), 'export default 42;\n');
    const planner = await loadPlanner({ preset: 'bedrock-chat-v3' }, { cwd, env: {} });
    expect([...planner.resolved.tables.keys()]).toEqual([
      'bedrock-v2-conversation',
      'bedrock-v3-conversation',
      'bedrock-v3-bot',
    ]);
    const pika = await loadPlanner({ preset: 'pika' }, { cwd, env: {} });
    expect([...pika.resolved.tables.keys()]).toEqual(['session', 'user', 'tag']);
  });

  it('refuses --config beside --preset', async () => {
    await expect(loadPlanner({ preset: 'pika', config: 'x.ts' })).rejects.toThrow(ConfigLoadError);
    await expect(loadPlanner({ preset: 'pika', config: 'x.ts' })).rejects.toThrow(
      '--config and --preset name two configs',
    );
  });
});
