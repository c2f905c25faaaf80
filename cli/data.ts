// `celda data TASK --split train|validation|test`: a task's examples as JSON
// lines, for training elsewhere (examples/pytorch/train_ddp.py). One line per
// example: {"x": [source token ids], "y": [target ids], "in_vocab": V,
// "classes": C, "topology": …, "text": what `celda predict` shows for it}.
// The ids are the ones celda trains on; the splits are celda's fixed ones.

import { printable } from '../runtime/limits.ts';
import type { Task } from '../runtime/train/data/tasks/task.ts';
import { getTask } from '../runtime/train/data/tasks/index.ts';
import { suggestion, UsageError } from './common.ts';
import { DATA } from './commands.ts';
import { parseOptions } from './options.ts';
import { TASKS } from '../runtime/train/data/tasks/index.ts';

const SPLITS = { train: 'train', validation: 'val', test: 'test' } as const;

/** The task a command line names, or a UsageError (exit 2) with the tasks and the closest. */
export function taskNamed(name: string): Task {
  const names = Object.keys(TASKS);
  if (!names.includes(name)) throw new UsageError(`unknown task \`${printable(name)}\` (tasks: ${names.join(', ')})${suggestion(name, names)}`);
  return getTask(name);
}

export function dataCommand(argv: string[]): number {
  const { values, positionals } = parseOptions(argv, DATA);
  if (positionals.length !== 1) throw new UsageError(`celda data needs one task (${Object.keys(TASKS).join(', ')}), got ${positionals.length}`);
  const split = values.split ?? 'train';
  const task = taskNamed(positionals[0]!);
  // `celda data gender | head`: a closed pipe ends the output, not with a stack trace
  process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(0); throw e; });
  const examples = task.load()[SPLITS[split as keyof typeof SPLITS]];
  const head = { in_vocab: task.inVocab, classes: task.classes, topology: task.topology };
  const lines = examples.map((ex) => JSON.stringify({ x: [...(ex.x ?? [])], y: [...ex.y], ...head, text: task.show(ex.x ?? null, ex.y) }));
  process.stdout.write(lines.join('\n') + (lines.length ? '\n' : ''));
  return 0;
}
