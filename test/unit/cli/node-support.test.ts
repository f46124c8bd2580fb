import { describe, expect, it } from 'vitest';
import {
  SDK_NODE_WARNING_SWITCH,
  SUPPORTED_NODE_RANGE,
  isSupportedNode,
  nodeSupportNotice,
} from '../../../scripts/node-support.ts';
import pkg from '../../../package.json' with { type: 'json' };

describe('supported Node versions', () => {
  it('is the range package.json declares', () => {
    expect(pkg.engines.node).toBe(SUPPORTED_NODE_RANGE);
  });

  it('accepts 20.19+, 22.12+ and later majors; refuses older ones', () => {
    for (const v of ['v20.19.0', 'v20.20.2', 'v22.12.0', 'v22.20.1', 'v24.1.0', 'v26.0.0'])
      expect(isSupportedNode(v), v).toBe(true);
    for (const v of ['v18.20.0', 'v20.18.3', 'v21.7.0', 'v22.11.0', 'garbage'])
      expect(isSupportedNode(v), v).toBe(false);
  });

  it("silences the SDK's notice on a supported Node, unless the operator set the switch", () => {
    const env: NodeJS.ProcessEnv = {};
    expect(nodeSupportNotice('v20.20.2', env)).toBeUndefined();
    expect(env[SDK_NODE_WARNING_SWITCH]).toBe('true');
    const own: NodeJS.ProcessEnv = { [SDK_NODE_WARNING_SWITCH]: 'false' };
    nodeSupportNotice('v20.20.2', own);
    expect(own[SDK_NODE_WARNING_SWITCH]).toBe('false');
  });

  it('says in one line that an unsupported Node is unsupported, and leaves the SDK alone', () => {
    const env: NodeJS.ProcessEnv = {};
    const line = nodeSupportNotice('v18.20.0', env);
    expect(line).toContain('Node v18.20.0 is not supported');
    expect(line).not.toContain('\n');
    expect(env[SDK_NODE_WARNING_SWITCH]).toBeUndefined();
  });
});
