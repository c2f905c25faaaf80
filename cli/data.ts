// `celda data TASK --split train|validation|test`: a task's examples as JSON
// lines, for training elsewhere (examples/pytorch/train_ddp.py). One line per
// example: {"x": [source token ids], "y": [target ids], "in_vocab": V,
// "classes": C, "topology": …, "text": what `celda predict` shows for it}.
// The ids are the ones celda trains on; the splits are celda's fixed ones.

import { TrainError } from '../runtime/train/errors.ts';
import { getTask } from '../runtime/train/data/tasks/index.ts';
import { parseCommand, UsageError } from './common.ts';

const SPLITS = { train: 'train', validation: 'val', test: 'test' } as const;

export function dataCommand(argv: string[]): number {
  const { values, positionals } = parseCommand(argv, { split: { type: 'string' } });
  if (positionals.length !== 1) throw new UsageError(`expected one task name, got ${positionals.length}`);
  const split = values.split ?? 'train';
  if (!Object.hasOwn(SPLITS, split)) throw new UsageError(`--split must be train, validation or test, not \`${split}\``);
  let task;
  try {
    task = getTask(positionals[0]!);
  } catch (e) {
    if (e instanceof TrainError) throw new UsageError(e.message);
    throw e;
  }
  // `celda data gender | head`: a closed pipe ends the output, not with a stack trace
  process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(0); throw e; });
  const examples = task.load()[SPLITS[split as keyof typeof SPLITS]];
  const head = { in_vocab: task.inVocab, classes: task.classes, topology: task.topology };
  const lines = examples.map((ex) => JSON.stringify({ x: [...(ex.x ?? [])], y: [...ex.y], ...head, text: task.show(ex.x ?? null, ex.y) }));
  process.stdout.write(lines.join('\n') + (lines.length ? '\n' : ''));
  return 0;
}
