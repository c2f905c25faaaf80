// A setting or option value the runtime refuses (`--batch 0`, `--bptt` on a
// task with one loss, an unknown task or backend): the command line is wrong,
// not the cell, file or checkpoint it names. The command line prints it as one
// `error: …` line and exits 2 (cli/main.ts, the one place that maps errors to
// exit codes); the playground shows the message. Browser-safe: no node:*.

/** A refused setting or option value; its message starts with what was refused and says what to give instead. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
