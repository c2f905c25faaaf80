// Small builders of WebAssembly text shared by the SIMD module's kernels
// (kernels-wat.ts, scan-wat.ts, loops-wat.ts, elementwise.ts): i32 locals and
// arithmetic, a while loop, an exported function.

export const get = (n: string) => `(local.get $${n})`;
export const set = (n: string, v: string) => `(local.set $${n} ${v})`;
export const add = (a: string, b: string) => `(i32.add ${a} ${b})`;
export const mul = (a: string, b: string) => `(i32.mul ${a} ${b})`;
export const c32 = (n: number) => `(i32.const ${n})`;

/** A loop run until `exit` holds: `(block $dT (loop $lT (br_if $dT exit) body… (br $lT)))`. */
export function whileLoop(tag: string, exit: string, body: string[]): string[] {
  return [`(block $d${tag} (loop $l${tag}`, `  (br_if $d${tag} ${exit})`, ...body.map((b) => '  ' + b), `  (br $l${tag})))`];
}

/** An exported function of i32 parameters: `;; what`, its signature, its locals, its body. */
export function func(name: string, what: string, params: readonly string[], locals: readonly string[], body: readonly string[]): string[] {
  return [
    `  ;; ${what}`,
    `  (func $${name} (export "${name}") ${params.map((x) => `(param $${x} i32)`).join(' ')}`,
    ...locals.map((l) => '    ' + l),
    ...body.map((b) => '    ' + b),
    '  )',
  ];
}
