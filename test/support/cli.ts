// Running the command line in-process, with what it writes to stdout and
// stderr captured: the one helper the CLI tests share.
import { run } from '../../cli/main.ts';

/** `celda ARGV…` in this process: its exit code and what it printed on stdout and stderr. */
export async function celda(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const o = process.stdout.write.bind(process.stdout), e = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
  try {
    return { code: await run(argv), out, err };
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
  }
}
