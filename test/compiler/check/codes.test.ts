// The diagnostic codes: every constructor of the catalog (compiler/diagnostics.ts)
// is called somewhere, and docs/notation.md lists exactly the catalog's codes —
// so a retired check leaves neither a dead constructor nor a documented code
// that nothing reports.

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { D } from '../../../compiler/diagnostics.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const CATALOG = join(ROOT, 'compiler', 'diagnostics.ts');

/** Every TypeScript source of the program (not its tests), as text. */
function sources(): { file: string; text: string }[] {
  const out: { file: string; text: string }[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) { if (e.name !== 'node_modules' && e.name !== 'dist') walk(p); } else if (p.endsWith('.ts') && p !== CATALOG) out.push({ file: p, text: readFileSync(p, 'utf8') });
    }
  };
  for (const d of ['grammar', 'compiler', 'runtime', 'cli', 'web']) walk(join(ROOT, d));
  return out;
}

/** Each constructor of `D` with the code it reports, read from the catalog's source (one `err('E…'` per entry). */
function catalog(): Map<string, string> {
  const text = readFileSync(CATALOG, 'utf8');
  const block = text.slice(text.indexOf('export const D = {'), text.indexOf('} as const;'));
  return new Map([...block.matchAll(/\n {2}(\w+): \([\s\S]*?err\('(E\d{3})'/g)].map((m) => [m[1]!, m[2]!]));
}

describe('diagnostic codes', () => {
  const cat = catalog();

  it('the catalog is read whole: one code per constructor', () => {
    expect([...cat.keys()].sort()).toEqual(Object.keys(D).sort());
  });

  it('every constructor has a caller', () => {
    const all = sources();
    const dead = [...cat].filter(([name]) => !all.some((s) => new RegExp(`\\bD\\.${name}\\b`).test(s.text))).map(([name, code]) => `${code} D.${name}`);
    expect(dead).toEqual([]);
  });

  it('docs/notation.md lists exactly the codes the catalog reports (E999, an internal error, aside)', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'notation.md'), 'utf8');
    const listed = [...doc.matchAll(/^\| (E\d{3}) \|/gm)].map((m) => m[1]!);
    expect(new Set(listed).size).toBe(listed.length);
    expect(listed.sort()).toEqual([...new Set(cat.values())].filter((c) => c !== 'E999').sort());
  });

  it('E022 is retired and not reused', () => {
    expect([...cat.values()]).not.toContain('E022');
  });
});
