// What every part of the gpu.js planner shares: its error and how a number is written in a kernel.

export class GpujsPlanError extends Error {}

/** A float literal; non-finite constants cannot be written in every kernel language. */
export function lit(v: number): string {
  if (!Number.isFinite(v)) throw new GpujsPlanError(`the constant ${v} cannot be written in a gpu.js kernel`);
  const s = String(v);
  return /[.e]/.test(s) ? s : `${s}.0`;
}
