// Which Node versions the CLI supports, and the SDK's Node notice on them. The AWS SDK warns (9
// lines, on every command) on any Node below 22 that *future* SDK releases will need 22; the SDK
// versions pinned here run on Node 20 and CI runs on it, so on a supported Node the notice says
// nothing an operator can act on. On an unsupported Node the CLI says so itself, in one line.

/** The supported range (package.json `engines`): Node 20 from 20.19 (end of life, still tested) and 22.12+. */
export const SUPPORTED_NODE_RANGE = '^20.19.0 || >=22.12.0';

/** The SDK's own switch for its Node-version notice. */
export const SDK_NODE_WARNING_SWITCH = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

/** Whether `version` (`v20.19.2`) is in SUPPORTED_NODE_RANGE. */
export function isSupportedNode(version: string): boolean {
  const m = /^v?(\d+)\.(\d+)\./.exec(version);
  if (!m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  if (major === 20) return minor >= 19;
  if (major === 22) return minor >= 12;
  return major > 22;
}

/**
 * Before any SDK client exists: silences the SDK's Node notice on a supported Node (an operator's
 * own setting of the switch wins) and returns the one line to print on an unsupported one.
 */
export function nodeSupportNotice(version: string, env: NodeJS.ProcessEnv): string | undefined {
  if (isSupportedNode(version)) {
    env[SDK_NODE_WARNING_SWITCH] ??= 'true';
    return undefined;
  }
  return `streamfill: Node ${version} is not supported (supported: ${SUPPORTED_NODE_RANGE}); upgrade to Node 22 or later`;
}
