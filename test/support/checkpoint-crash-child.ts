// A child process for the crash-consistency test (test/runtime/train/io/
// checkpoint-crash.test.ts): loads the checkpoint in argv[2], then saves the
// next one (see nextCheckpoint) and kills itself with SIGKILL at the save point
// argv[3] — a real crash, not an exception: nothing after it runs.
import { loadCheckpoint, saveCheckpoint } from '../../runtime/train/io/checkpoint.ts';
import { nextCheckpoint } from './train.ts';

const [dir, point] = process.argv.slice(2) as [string, string];
saveCheckpoint(dir, nextCheckpoint(loadCheckpoint(dir)), (p) => {
  if (p === point) process.kill(process.pid, 'SIGKILL');
});
