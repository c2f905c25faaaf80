// The editor: CodeMirror 6 with the notation's highlighting, celda's diagnostics
// inline (set by the page after each compile, never by a linter of its own), a
// dark theme that follows the system, and the page's shortcuts.

import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { bracketMatching, indentOnInput } from '@codemirror/language';
import type { Diagnostic as CmDiagnostic } from '@codemirror/lint';
import { lintGutter, setDiagnostics } from '@codemirror/lint';
import { Compartment, EditorState } from '@codemirror/state';
import type { KeyBinding } from '@codemirror/view';
import { drawSelection, EditorView, highlightActiveLine, highlightActiveLineGutter, highlightSpecialChars, keymap, lineNumbers } from '@codemirror/view';
import { oneDark } from '@codemirror/theme-one-dark';
import type { Diagnostic } from '../compiler/diagnostics.ts';
import { celdaHighlighting, celdaLanguage } from './lang.ts';

const dark = window.matchMedia('(prefers-color-scheme: dark)');
const theme = new Compartment();
const themeFor = (isDark: boolean) => (isDark ? oneDark : []);

export interface Editor {
  readonly view: EditorView;
  text(): string;
  setText(text: string): void;
  /** celda's diagnostics at their spans (UTF-16 offsets, as CodeMirror counts). */
  showDiagnostics(ds: readonly Diagnostic[]): void;
}

/** A diagnostic as the CLI words it: `error[E003]: message`, its notes, then `help: …`. */
export function diagnosticMessage(d: Diagnostic): string {
  return [`${d.severity}[${d.code}]: ${d.message}`, ...(d.notes ?? []).map((n) => `note: ${n.message}`), ...(d.help ? [`help: ${d.help}`] : [])].join('\n');
}

export function createEditor(parent: HTMLElement, doc: string, onChange: (text: string) => void, keys: readonly KeyBinding[]): Editor {
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc,
      extensions: [
        lineNumbers(), highlightActiveLineGutter(), highlightSpecialChars(), history(), drawSelection(),
        indentOnInput(), bracketMatching(), highlightActiveLine(), lintGutter(),
        keymap.of([...keys, ...defaultKeymap, ...historyKeymap, indentWithTab]),
        celdaLanguage, celdaHighlighting,
        theme.of(themeFor(dark.matches)),
        EditorView.lineWrapping,
        EditorView.contentAttributes.of({ 'aria-label': 'celda cell', spellcheck: 'false', autocapitalize: 'off', autocorrect: 'off' }),
        EditorView.updateListener.of((u) => { if (u.docChanged) onChange(u.state.doc.toString()); }),
      ],
    }),
  });
  dark.addEventListener('change', (e) => view.dispatch({ effects: theme.reconfigure(themeFor(e.matches)) }));
  return {
    view,
    text: () => view.state.doc.toString(),
    setText(text) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    },
    showDiagnostics(ds) {
      const len = view.state.doc.length;
      const marks: CmDiagnostic[] = ds.map((d) => {
        const from = Math.max(0, Math.min(d.span.start, len));
        // An empty span (end of input) still gets a mark one character wide where there is one.
        const to = Math.max(from, Math.min(d.span.end > d.span.start ? d.span.end : from + 1, len));
        return { from, to, severity: d.severity, message: diagnosticMessage(d), source: `celda ${d.code}` };
      });
      view.dispatch(setDiagnostics(view.state, marks));
    },
  };
}
