import { describe, expect, it } from 'vitest';
import { colorEnabled, newTable } from '../../../scripts/output.ts';

describe('colour', () => {
  it('is on only for a terminal without NO_COLOR (empty counts as unset) or TERM=dumb', () => {
    expect(colorEnabled({ isTTY: true }, {})).toBe(true);
    expect(colorEnabled({ isTTY: true }, { NO_COLOR: '' })).toBe(true);
    expect(colorEnabled({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colorEnabled({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
    expect(colorEnabled({ isTTY: true }, { CI: 'true' })).toBe(false);
    expect(colorEnabled({ isTTY: false }, {})).toBe(false);
    expect(colorEnabled({}, {})).toBe(false);
  });

  it('tables carry no escape codes without colour', () => {
    const t = newTable(['a'], false);
    t.push(['b']);
    expect(t.toString()).not.toContain('\x1b');
  });
});
