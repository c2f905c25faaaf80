// A training problem the user can fix (bad option, cell that cannot fit the
// task, checkpoint that does not match): reported as a message, never a trace.

export class TrainError extends Error {}

/** Training met a NaN or ±Inf; the message names the step and the first bad value. */
export class NonFiniteError extends TrainError {}
