// The tasks by the names `celda train` takes.

import { UsageError } from '../../../usage.ts';
import { entitiesTask } from './entities.ts';
import { g2pTask } from './g2p.ts';
import { genderTask } from './gender.ts';
import { namesTask } from './names.ts';
import type { Task } from './task.ts';

export const TASKS: Readonly<Record<string, () => Task>> = {
  names: namesTask,
  gender: genderTask,
  entities: entitiesTask,
  g2p: g2pTask,
};

export function getTask(name: string): Task {
  const make = Object.hasOwn(TASKS, name) ? TASKS[name] : undefined;
  if (!make) throw new UsageError(`unknown task \`${name}\` (tasks: ${Object.keys(TASKS).join(', ')})`);
  return make();
}

export type { Task };
