// Structural equality of unmarshalled DynamoDB values (maps, lists, sets, binary, scalars), as
// DynamoDB compares them: numbers by value, whether a JS number or an ExactNumber's text.
import { isExactNumber } from './exact-number.ts';

/** A DynamoDB number's value as `sign|digits|exponent` text, so 1, 1.0, 1e0 and 10e-1 agree. */
function canonicalNumber(text: string): string | undefined {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i.exec(text.trim());
  if (!m) return undefined;
  const [, sign, int = '', frac = '', exp = '0'] = m;
  if (int === '' && frac === '') return undefined;
  const all = `${int}${frac}`;
  const lead = all.search(/[1-9]/);
  if (lead === -1) return '0';
  const digits = all.slice(lead).replace(/0+$/, '');
  // Value = 0.digits × 10^(position of the first significant digit, counted from the point).
  const point = int.length - lead + Number(exp);
  return `${sign === '-' ? '-' : ''}${digits}e${point}`;
}

function numberText(v: unknown): string | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : undefined;
  return isExactNumber(v) ? v.text : undefined;
}

export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const na = numberText(a);
  const nb = numberText(b);
  if (na !== undefined || nb !== undefined) {
    return na !== undefined && nb !== undefined && canonicalNumber(na) === canonicalNumber(nb);
  }
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (a instanceof Set || b instanceof Set) {
    if (!(a instanceof Set && b instanceof Set) || a.size !== b.size) return false;
    const rest = [...b];
    return [...a].every((x) => {
      const i = rest.findIndex((y) => sameValue(x, y));
      return i !== -1 && rest.splice(i, 1).length === 1;
    });
  }
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return (
      a instanceof Uint8Array &&
      b instanceof Uint8Array &&
      a.length === b.length &&
      a.every((x, i) => x === b[i])
    );
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((x, i) => sameValue(x, b[i]))
    );
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const ka = Object.keys(ra).filter((k) => ra[k] !== undefined);
  return (
    ka.length === Object.keys(rb).filter((k) => rb[k] !== undefined).length &&
    ka.every((k) => k in rb && sameValue(ra[k], rb[k]))
  );
}
