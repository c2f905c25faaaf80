// The export's own diagnostics (codes E050–E059), in the catalog's shape, so
// the one renderer prints them with the source line and a caret.

import type { Diagnostic, Span } from '../diagnostics.ts';

const err = (code: string, span: Span, message: string, help?: string): Diagnostic => ({
  code, severity: 'error', message, span, ...(help === undefined ? {} : { help }),
});

export const X = {
  /** A value the target format has no way to compute. */
  cannotExpress: (span: Span, target: string, what: string, help?: string) =>
    err('E050', span, `${target} export: ${what}`, help),
  /** A name the generated module cannot use as it is. */
  badName: (span: Span, target: string, name: string, why: string) =>
    err('E051', span, `${target} export: \`${name}\` ${why}`, 'rename it in the cell'),
};
