// emit/js: a compiled cell → one standalone JavaScript module (no imports), from
// its lowered plan (lower.ts). Pure Graph → string: the same cell gives the same
// bytes. The module exports `create<Cell>(dims, batch)`, whose instance runs the
// forward pass over T steps and BPTT:
//
//   const cell = createLSTM({ n_x: 16, n_a: 32 }, 1);
//   const { states, outputs } = cell.forward(params, { x }, {});
//   const { params: dW, inputs: dx, init } = cell.backward({ states: { a: da } });
//
// Arrays are flat and row-major: per-step values [T][B][n], initial states
// [B][n], matrices by rows. Results are views of the instance's buffers, valid
// until its next call.

import type { CompiledCell } from '../../compile.ts';
import { emitDts } from './dts.ts';
import { KERNELS, MATH } from './helpers.ts';
import { LoopText } from './loops.ts';
import type { MoveHelper } from './simd-helpers.ts';
import { wasmLoopsHelper, SIMD_MOVES } from './simd-helpers.ts';
import { commentText, jsNumber, jsString } from './identifiers.ts';
import type { Pass } from './text-base.ts';
import type { Chunk } from './text-base.ts';
import { IND, JsText, chunk, helperClosure, joined } from './text-base.ts';
import { lowerCell } from '../../lower/lower.ts';
import type { WasmLoopsModule } from '../wasm/loops-wat.ts';
import { assembleWasmLoops } from '../wasm/loops-wat.ts';
import type { BufferDecl, CellPlan, Kernel, PassPlan, Phase } from '../../lower/loop-ir.ts';
import { printCell, printGrad } from '../../print/notation.ts';

export interface JsOptions {
  readonly precision?: 'f64' | 'f32';
  /**
   * Float32 only (default true): run the matrix products as WebAssembly SIMD on
   * one memory shared with the module's JavaScript, falling back to plain
   * JavaScript at run time where WebAssembly SIMD is missing. false emits the
   * plain-JavaScript module. Float64 always stays plain JavaScript.
   */
  readonly simd?: boolean;
  /** Run diagonal linear recurrences as scans (compiler/lower/scan.ts); default true, false: the sequential lowering (`--no-scan`). */
  readonly scan?: boolean;
}

export interface EmittedJs {
  /** The factory's name: `createLSTM`. */
  readonly factory: string;
  /** The ES module. */
  readonly module: string;
  /** The same code as the body of a function that returns the factory (for `new Function`). */
  readonly body: string;
  /** Its TypeScript declarations. */
  readonly dts: string;
  /** The dimensions the factory asks for. */
  readonly dims: readonly string[];
  readonly plan: CellPlan;
  /** Whether the module carries the WebAssembly SIMD products. */
  readonly simd: boolean;
  /** SIMD modules: the text of the WebAssembly module of its fused loops (compiler/emit/wasm/loops-wat.ts, unshared memory), null without one. */
  readonly wasmLoopsWat: string | null;
}

export function emitJs(cell: CompiledCell, opts: JsOptions = {}): EmittedJs {
  const plan = lowerCell(cell, opts.precision ?? 'f64', opts.scan === false ? { scan: false } : {});
  const e = new Emitter(new JsText(cell, plan, plan.precision === 'f32' && opts.simd !== false));
  const factory = e.factory();
  // The loops the factory handed over to WebAssembly, assembled once: the module carries the bytes, EmittedJs the text.
  const wasmLoops = factory.loops.length > 0 ? assembleWasmLoops(factory.loops) : null;
  const helpers = e.helpers(factory.uses, wasmLoops, factory.loops.length);
  const header = e.header(factory.loops.length);
  const name = e.t.factoryName;
  const code = factory.lines.join('\n');
  const module = `${header}\n${helpers}\n\n${code}\n\nexport { ${name}, ${name} as default };\n`;
  const body = `'use strict';\n${helpers}\n\n${code}\n\nreturn ${name};\n`;
  const { dims } = factory;
  return { factory: name, module, body, dts: emitDts(cell, name, plan.precision, dims, e.t.simd), dims, plan, simd: e.t.simd, wasmLoopsWat: wasmLoops?.wat ?? null };
}

/** A list of names as a JavaScript array literal. */
const keyList = (names: readonly string[]) => `[${names.map(jsString).join(', ')}]`;

/** The module: its header, the helpers it calls, and the factory, whose passes call the kernels of `loops`. */
class Emitter {
  readonly loops: LoopText;
  constructor(readonly t: JsText) {
    this.loops = new LoopText(t);
  }

  // ---------------------------------------------------------------- the module

  /** The module's opening comment; `loops`: how many fused loops the factory hands to WebAssembly. */
  header(loops: number): string {
    const t = this.t.cell.typed;
    const lines = [
      `celda: the cell \`${this.t.cell.name}\`, compiled to JavaScript (${this.t.plan.precision === 'f32' ? 'float32' : 'float64'}${this.t.simd ? `, matrix products${loops ? ' and fused loops' : ''} in WebAssembly SIMD` : ''}).`,
      'Generated from the cell\'s graph; do not edit. Standalone: no imports.',
      `Exports ${this.t.factoryName}(dims, batch${this.t.simd ? ', options' : ''}) → { forward, backward${t.mode === 'step' ? ', step, stepBackward' : ''} }.`,
      ...(this.t.simd
        ? ['Every buffer of an instance is a view of one WebAssembly memory, where the products run in place;',
          'options.simd = false, or a runtime without WebAssembly SIMD, runs them as plain JavaScript; where the',
          'runtime has relaxed SIMD the product uses its multiply-add (options.fma = false: it does not; with a heap, the heap decides);',
          'options.heap takes the heap of celda\'s thread pool (runtime/wasm/pool.ts) to split them between threads.',
          ...(loops ? ['The fused loops of the gates run as WebAssembly SIMD on the same memory (options.wasmLoops = false: as JavaScript).'] : [])]
        : []),
      '',
      ...printCell(t, this.t.cell.forward, 'unicode').trimEnd().split('\n'),
      '',
      `Backward step (∂v is ∂ℒ/∂v; parameter gradients summed over the batch and time):`,
      ...printGrad(t, this.t.cell.forward, this.t.cell.backward, { spelling: 'unicode', compact: true, maxDepth: 100 }).trimEnd().split('\n'),
    ];
    return lines.map((l) => `// ${commentText(l)}`.trimEnd()).join('\n') + '\n';
  }

  /** The helpers the factory's code calls (and theirs), and the module of its WebAssembly loops. */
  helpers(uses: readonly string[], wasmLoops: WasmLoopsModule | null, loops: number): string {
    const used = helperClosure(uses);
    const math = Object.keys(MATH).filter((k) => used.has(k));
    const out = [`const $F = ${this.t.F};`];
    if (math.length) out.push(`const ${math.map((k) => `${k} = ${MATH[k]}`).join(', ')};`);
    for (const k of Object.keys(KERNELS)) if (used.has(k)) out.push('', KERNELS[k]!);
    if (wasmLoops !== null) out.push('', wasmLoopsHelper(wasmLoops, loops));
    return out.join('\n');
  }

  /** The factory function, and the dimensions it asks for (those its code refers to). */
  factory(): Chunk & { readonly dims: readonly string[] } {
    const p = this.t.plan;
    const fixed = p.buffers.filter((b) => b.extent === 'one' || b.extent === 'step');
    const timed_ = p.buffers.filter((b) => b.extent === 'seq' || b.extent === 'states');
    const indent = (ls: readonly string[]) => ls.map((l) => IND + l);
    const forward = this.forwardFn(), backward = this.backwardFn();
    const passes = joined([forward, backward]);
    const api = this.api(passes.loops.length);
    // SIMD buffers after the passes: they carry the wrappers of the data-movement helpers the passes call.
    const buffers = this.t.simd ? this.simdBuffers(fixed, timed_, passes) : this.plainBuffers(fixed, timed_);
    const dims = p.dims.filter((d) => this.t.dimsUsed.has(d));
    const lines = [
      `/**`, ` * An instance of ${commentText(this.t.cell.name)} for the given dimensions and batch size. Buffers are`, ` * allocated here and grown with T; nothing is allocated inside the time loop.`, ` */`,
      `function ${this.t.factoryName}($dims, $batch${this.t.simd ? ', $options' : ''}) {`,
      `${IND}$keys($dims, ${keyList(p.dims)}, 'dims');`,
      ...dims.map((d) => `${IND}const ${this.t.dimId.get(d)} = $size($own($dims, ${jsString(d)}), ${jsString(`dims.${d}`)});`),
      `${IND}const $B = $size($batch, 'batch');`,
      '',
      ...buffers.lines,
      '',
      ...indent(forward.lines),
      '',
      ...indent(backward.lines),
      '',
      ...indent(api.lines),
      '}',
    ];
    return { ...joined([chunk([], ['$size', '$load', '$own', '$fail', '$keys', '$room']), passes, buffers, api], lines), dims };
  }

  /** Plain modules, the factory's first lines (indented): the buffers of a fixed size, and those of T·B rows in $mem, grown by $ensure. */
  plainBuffers(fixed: readonly BufferDecl[], timed_: readonly BufferDecl[]): Chunk {
    const alloc = (b: BufferDecl) => this.t.prod(b.extent === 'states' ? '($T + 1)' : '$T', '$B', this.t.size(b));
    const floats = [...fixed.map((b) => (b.extent === 'step' ? this.t.prod('$B', this.t.size(b)) : this.t.size(b))), ...timed_.map(alloc)];
    return chunk([
      `${IND}// The bytes an instance needs for T steps: checked before allocating.`,
      `${IND}const $bytes = ($T) => ${this.t.prod(String(this.t.plan.precision === 'f32' ? 4 : 8), floats.length > 1 ? `(${floats.join(' + ')})` : floats[0] ?? '0')};`,
      `${IND}$room($bytes(1), \`batch and dims: batch \${$B} with dims \${JSON.stringify($dims)}\`);`,
      `${IND}// Buffers of a fixed size: parameters, packed weights, gradients, values of one step.`,
      ...fixed.map((b) => `${IND}const ${this.t.buf(b.id)} = new $F(${b.extent === 'step' ? this.t.prod('$B', this.t.size(b)) : this.t.size(b)});`),
      '',
      `${IND}// Buffers of T·B rows (states: (T+1)·B, slot 0 the initial state), grown to the longest T seen.`,
      `${IND}let $cap = 0, $last = 0;`,
      `${IND}const $mem = { ${timed_.map((b) => `${this.t.buf(b.id)}: new $F(0)`).join(', ')} };`,
      `${IND}function $ensure($T) {`,
      `${IND}${IND}if ($T <= $cap) return;`,
      `${IND}${IND}$cap = $T;`,
      ...timed_.map((b) => `${IND}${IND}$mem.${this.t.buf(b.id)} = new $F(${alloc(b)});`),
      `${IND}}`,
    ]);
  }

  /** What an instance returns: forward and backward, step-at-a-time methods for step cells, and its description. */
  api(loops: number): Chunk {
    const L: string[] = [];
    const api = ['forward: $forward', 'backward: $backward'];
    if (this.t.cell.typed.mode === 'step') {
      L.push(`// One step at a time (a second instance, so the saved trajectory of forward stays intact).`);
      L.push(`let $single = null;`);
      L.push(`function $step($params, $inputs, $init) {`);
      L.push(`${IND}if ($single === null) $single = ${this.t.factoryName}($dims, $batch${this.t.simd ? ', $options' : ''});`);
      L.push(`${IND}return $single.forward($params, $inputs, $init, 1);`);
      L.push(`}`);
      L.push(`function $stepBackward($cot) {`);
      L.push(`${IND}if ($single === null) $fail('stepBackward before step');`);
      L.push(`${IND}return $single.backward($cot);`);
      L.push(`}`);
      api.push('step: $step', 'stepBackward: $stepBackward');
    }
    api.push(`cell: ${jsString(this.t.cell.name)}`, `precision: ${jsString(this.t.plan.precision)}`, 'batch: $B');
    if (this.t.simd) {
      api.push('simd: $heap.simd !== false', 'get threads() { return $heap.threads; }', 'fma: $heap.fma === true', `wasmLoops: ${loops > 0 ? '$ew !== null' : 'false'}`);
      L.push(`// A shared heap gets the block back when the instance is gone (its methods hold $mem).`);
      L.push(`if ($blocks !== null && $options.heap) $blocks.register($mem, $block);`);
    }
    L.push(`return { ${api.join(', ')} };`);
    return chunk(L);
  }

  /**
   * SIMD: every buffer a view of the heap's memory, in one block sized for the
   * longest T seen; views made again when the memory has grown (growing an
   * unshared WebAssembly memory detaches the views of its old buffer).
   */
  simdBuffers(fixed: readonly BufferDecl[], timed_: readonly BufferDecl[], passes: Chunk): Chunk {
    const calls = this.simdCalls(passes);
    const layout = this.simdLayout(fixed, timed_);
    return joined([calls, layout], [...calls.lines, '', ...layout.lines].map((l) => IND + l));
  }

  /** SIMD: the heap, and the calls into its kernels — the product, the activations, the fused loops and the data movement the passes use. */
  simdCalls(passes: Chunk): Chunk {
    const L: string[] = [];
    const uses = ['$heapOf'];
    L.push(`if ($options === undefined || $options === null) $options = {};`);
    L.push(`const $heap = $heapOf($options), $kgemm = $heap.gemm;`);
    if (passes.loops.length > 0) {
      L.push(`/** The fused loops as WebAssembly on the heap's memory (null: in JavaScript — options.wasmLoops false, or a heap or runtime without it). */`);
      L.push(`const $ew = $options.wasmLoops === false ? null : $ewOf($heap);`);
      uses.push('$decode', '$compile');
    }
    L.push(`/** tanh (0) and σ (1) in place on n floats at byte address p, four lanes at a time (a heap without them: plain JavaScript). */`);
    L.push(`const $kact = typeof $heap.act === 'function' ? $heap.act : (kind, p, n) => $actJs(new $F($heap.memory.buffer), kind, p >> 2, n);`);
    L.push(`/** C (+)= A · Bᵀ on views of the heap's memory: the kernel takes byte addresses. */`);
    L.push(`function $mm(M, N, K, A, aOff, lda, B, bOff, ldb, C, cOff, ldc, acc) {`);
    L.push(`${IND}$kgemm(M, N, K, A.byteOffset + 4 * aOff, lda, B.byteOffset + 4 * bOff, ldb, C.byteOffset + 4 * cOff, ldc, acc);`);
    L.push(`}`);
    const called = new Set(passes.uses);
    const moves = (Object.keys(SIMD_MOVES) as MoveHelper[]).filter((h) => called.has(this.t.move(h).call));
    if (moves.length > 0) {
      L.push(`/** Transposes, row sums, copies: the heap's kernels on byte addresses, or the plain-JS helpers on a heap without them. */`);
      for (const h of moves) L.push(...SIMD_MOVES[h].split('\n'));
    }
    return chunk(L, uses);
  }

  /** SIMD: the buffers, views of one block of the heap laid out by $layout, and $ensure, which grows the block for a longer T. */
  simdLayout(fixed: readonly BufferDecl[], timed_: readonly BufferDecl[]): Chunk {
    const L: string[] = [];
    L.push(`// Buffers: parameters, packed weights, gradients, values of one step; then T·B rows (states: (T+1)·B,`);
    L.push(`// slot 0 the initial state). All in one block of the heap, grown to the longest T seen.`);
    L.push(`let $cap = 0, $last = 0, $viewed = null;`);
    L.push(`const $block = { heap: $heap, at: 0, bytes: 0 };`);
    const p = this.t.plan;
    const scratch = [p.forward, p.backward].flatMap((pp) => [...(pp.stages ?? []), pp]).flatMap((pp) => Object.values(pp.phases).flat()).map((k) => this.loops.actScratch(k)).filter((x): x is string => x !== null);
    L.push(`const $mem = { ${[...fixed, ...timed_].map((b) => `${this.t.buf(b.id)}: null`).join(', ')}, $act: null };`);
    L.push(`/** Views of the block at $buf for T steps (with $buf null: only the size); its size in bytes. */`);
    L.push(`function $layout($T, $buf) {`);
    L.push(`${IND}let $at = $block.at;`);
    L.push(`${IND}const $take = (key, n) => {`);
    L.push(`${IND}${IND}if ($buf !== null) $mem[key] = new $F($buf, $at, n);`);
    L.push(`${IND}${IND}$at += $ceil(n / 4) * 16;`);
    L.push(`${IND}};`);
    for (const b of fixed) L.push(`${IND}$take(${jsString(this.t.buf(b.id))}, ${b.extent === 'step' ? this.t.prod('$B', this.t.size(b)) : this.t.size(b)});`);
    for (const b of timed_) L.push(`${IND}$take(${jsString(this.t.buf(b.id))}, ${this.t.prod(b.extent === 'states' ? '($T + 1)' : '$T', '$B', this.t.size(b))});`);
    L.push(`${IND}// Arguments of a step's activations, computed by the kernel in place (one segment per tanh or σ of a loop).`);
    L.push(`${IND}$take('$act', ${scratch.length === 0 ? '0' : scratch.length === 1 ? scratch[0]! : `$max(${scratch.join(', ')})`});`);
    L.push(`${IND}return $at - $block.at;`);
    L.push(`}`);
    L.push(`// The bytes an instance needs for T steps: checked before allocating.`);
    L.push(`const $bytes = ($T) => $layout($T, null);`);
    L.push(`$room($bytes(1), \`batch and dims: batch \${$B} with dims \${JSON.stringify($dims)}\`);`);
    L.push(`function $ensure($T) {`);
    L.push(`${IND}if ($T > $cap) {`);
    L.push(`${IND}${IND}const bytes = $layout($T, null), at = $heap.alloc(bytes);`);
    L.push(`${IND}${IND}// A block may be memory another instance freed: start from zeros, as new arrays do.`);
    L.push(`${IND}${IND}new Uint8Array($heap.memory.buffer, at, bytes).fill(0);`);
    L.push(`${IND}${IND}if ($block.bytes > 0) $heap.free($block.at, $block.bytes);`);
    L.push(`${IND}${IND}$block.at = at;`);
    L.push(`${IND}${IND}$block.bytes = bytes;`);
    L.push(`${IND}${IND}$cap = $T;`);
    L.push(`${IND}${IND}$viewed = null;`);
    L.push(`${IND}}`);
    L.push(`${IND}if ($heap.memory.buffer !== $viewed) {`);
    L.push(`${IND}${IND}$viewed = $heap.memory.buffer;`);
    L.push(`${IND}${IND}$layout($cap, $viewed);`);
    L.push(`${IND}}`);
    L.push(`}`);
    return chunk(L, ['$ceil', ...(scratch.length > 1 ? ['$max'] : [])]);
  }

  // ---------------------------------------------------------------- forward and backward

  forwardFn(): Chunk {
    const p = this.t.plan;
    const t = this.t.cell.typed;
    const L: string[] = [];
    L.push('/** Run T steps from the initial states (default: each state\'s declared constant), saving what backward needs. */');
    L.push('function $forward($params, $inputs, $init, $steps) {');
    L.push(`${IND}$keys($params, ${keyList(p.params.map((q) => q.key))}, 'params');`);
    L.push(`${IND}if ($inputs === undefined || $inputs === null) $inputs = {};`);
    L.push(`${IND}$keys($inputs, ${keyList(p.inputs.map((i) => i.key))}, 'inputs');`);
    L.push(`${IND}if ($init === undefined || $init === null) $init = {};`);
    L.push(`${IND}$keys($init, ${keyList(p.states.map((st) => st.key))}, 'init');`);
    const first = p.inputs[0];
    const stepsFrom = first ? `$size(($own($inputs, ${jsString(first.key)}) ?? []).length / (${this.t.prod('$B', this.t.dim(first.width))}), ${jsString(`the number of steps (length of inputs.${first.key} / (batch × ${first.key}'s size))`)})` : '1';
    L.push(`${IND}const $T = $steps !== undefined ? $size($steps, 'steps') : ${stepsFrom};`);
    if (t.mode === 'unrolled') L.push(`${IND}if ($T !== ${t.steps}) $fail(${jsString(`${this.t.cell.name} is unrolled over ${t.steps} steps`)});`);
    L.push(`${IND}if ($T > $cap) $room($bytes($T), \`steps: \${$T} steps of batch \${$B}\`);`);
    if (this.t.simd) {
      L.push(`${IND}// Arrays this instance returned are views of its memory, which growing for a longer T detaches: copy them first.`);
      L.push(`${IND}if ($T > $cap && $viewed !== null) { $params = $keep($params, $viewed); $inputs = $keep($inputs, $viewed); $init = $keep($init, $viewed); }`);
    }
    L.push(`${IND}$ensure($T);`);
    L.push(`${IND}$last = $T;`);
    L.push(`${IND}const $TB = $T * $B;`);
    const { value: body, take } = this.t.fromMem(() => this.forwardBody());
    L.push(...take.map((l) => IND + l), ...body.lines, '}');
    return joined([body.functions, chunk([], this.t.simd ? ['$keep', '$finite'] : ['$finite'])], [...body.functions.lines.slice(1), '', ...L]);
  }

  /** $forward after its checks: the arrays loaded, the phases called, the results returned (and the phases' functions). */
  forwardBody(): { lines: string[]; functions: Chunk } {
    const p = this.t.plan;
    const L: string[] = [];
    for (const q of p.params) {
      const n = this.t.size(p.buffers[q.buf]!);
      L.push(`${IND}$load(${this.t.buf(q.buf)}, $own($params, ${jsString(q.key)}), ${jsString(`params.${q.key}`)}, ${n});`);
      L.push(`${IND}$finite(${this.t.buf(q.buf)}, ${jsString(`params.${q.key}`)}, ${n});`);
    }
    for (const i of p.inputs) L.push(`${IND}$load(${this.t.buf(i.buf)}, $own($inputs, ${jsString(i.key)}), ${jsString(`inputs.${i.key}`)}, ${this.t.prod('$TB', this.t.dim(i.width))});`);
    for (const s of p.states) {
      const n = this.t.prod('$B', this.t.rowWidth(s.buf));
      L.push(`${IND}if ($own($init, ${jsString(s.key)}) !== undefined) $load(${this.t.buf(s.buf)}, $own($init, ${jsString(s.key)}), ${jsString(`init.${s.key}`)}, ${n});`);
      L.push(`${IND}else ${this.t.buf(s.buf)}.fill(${jsNumber(s.init)}, 0, ${n});`);
    }
    const { functions, calls } = this.pass('forward', p.forward);
    L.push(...calls.map((l) => IND + l));
    const states = p.states.map((s) => `[${jsString(s.key)}]: ${this.t.buf(s.buf)}.subarray(${this.t.prod('$B', this.t.rowWidth(s.buf))}, ${this.t.prod('($T + 1)', '$B', this.t.rowWidth(s.buf))})`);
    const outputs = p.outputs.map((o) => {
      const w = this.t.prod(...o.width.map((d) => this.t.dim(d)));
      return `[${jsString(o.key)}]: ${this.t.buf(o.buf)}.subarray(${o.shift ? this.t.prod('$B', w) : '0'}, ${this.t.prod(o.shift ? '($T + 1)' : '$T', '$B', w)})`;
    });
    L.push(`${IND}return { states: { ${states.join(', ')} }, outputs: { ${outputs.join(', ')} } };`);
    return { lines: L, functions };
  }

  backwardFn(): Chunk {
    const L: string[] = [];
    L.push('/** BPTT from step T down to 1 for the last forward: cotangents of states and outputs → gradients. */');
    L.push('function $backward($cot) {');
    L.push(`${IND}if ($last === 0) $fail('backward before forward');`);
    if (this.t.simd) L.push(`${IND}$ensure(0);`);
    L.push(`${IND}const $T = $last, $TB = $T * $B;`);
    const { value: body, take } = this.t.fromMem(() => this.backwardBody());
    L.push(...take.map((l) => IND + l), ...body.lines, '}');
    return joined([body.functions], [...body.functions.lines.slice(1), '', ...L]);
  }

  /** $backward after its checks: gradients zeroed, cotangents loaded, the phases called, the gradients returned (and the phases' functions). */
  backwardBody(): { lines: string[]; functions: Chunk } {
    const p = this.t.plan;
    const L: string[] = [];
    L.push(`${IND}$keys($cot, ['states', 'outputs'], 'cotangents');`);
    L.push(`${IND}const $cs = $own($cot, 'states') ?? {}, $co = $own($cot, 'outputs') ?? {};`);
    L.push(`${IND}$keys($cs, ${keyList(p.states.map((st) => st.key))}, 'cotangents.states');`);
    L.push(`${IND}$keys($co, ${keyList(p.outputs.map((o) => o.key))}, 'cotangents.outputs');`);
    L.push(`${IND}// Parameter gradients are sums over the batch and over time.`);
    for (const d of p.dparams) L.push(`${IND}${this.t.buf(d.buf)}.fill(0);`);
    L.push(`${IND}// A state's cotangent: slot t+1 holds ∂ℒ/∂state^<t+1> as given; step t adds what it carries to slot t.`);
    for (const c of p.cotangents) {
      const w = this.t.prod(...c.width.map((d) => this.t.dim(d)));
      const src = c.kind === 'state' ? '$cs' : '$co';
      const at = c.kind === 'state' ? this.t.prod('$B', w) : '0';
      const n = this.t.prod('$TB', w);
      L.push(`${IND}if ($own(${src}, ${jsString(c.key)}) !== undefined) $load(${at === '0' ? this.t.buf(c.buf) : `${this.t.buf(c.buf)}.subarray(${at})`}, $own(${src}, ${jsString(c.key)}), ${jsString(`cotangents.${c.kind}s.${c.key}`)}, ${n});`);
      L.push(`${IND}else ${this.t.buf(c.buf)}.fill(0, ${at}, ${this.t.sum(at, n)});`);
      if (c.kind === 'state') L.push(`${IND}${this.t.buf(c.buf)}.fill(0, 0, ${at});`);
    }
    const { functions, calls } = this.pass('backward', p.backward);
    L.push(...calls.map((l) => IND + l));
    const params = p.dparams.map((d) => `[${jsString(d.key)}]: ${this.t.buf(d.buf)}`);
    const inputs = p.dinputs.map((d) => `[${jsString(d.key)}]: ${this.t.buf(d.buf)}.subarray(0, ${this.t.prod('$TB', this.t.size(p.buffers[d.buf]!))})`);
    const init = p.cotangents.filter((c) => c.kind === 'state').map((c) => `[${jsString(c.key)}]: ${this.t.buf(c.buf)}.subarray(0, ${this.t.prod('$B', this.t.rowWidth(c.buf))})`);
    L.push(`${IND}return { params: { ${params.join(', ')} }, inputs: { ${inputs.join(', ')} }, init: { ${init.join(', ')} } };`);
    return { lines: L, functions };
  }

  /**
   * A pass as one small function per phase (so that V8 optimises and inlines each
   * on its own) and the lines of the pass's entry point that call them.
   */
  pass(pass: Pass, plan: PassPlan): { functions: Chunk; calls: string[] } {
    const functions: Chunk[] = [];
    const calls: string[] = [];
    // A staged pass: each earlier stage is a whole pass of its own, run first.
    for (const stage of plan.stages ?? []) {
      const s = this.pass(pass, stage);
      functions.push(s.functions);
      calls.push(...s.calls);
    }
    const unrolled = this.t.cell.typed.mode === 'unrolled';
    const fn = (phase: Phase, title: string, param: string, head: string[], call: string[]) => {
      const ks = plan.phases[phase];
      if (!ks.length) return;
      const name = this.t.names.fresh(`${pass}${phase[0]!.toUpperCase()}${phase.slice(1)}`, '$');
      const { value: body, take } = this.t.fromMem(() => joined(ks.map((k) => this.loops.kernel(pass, k))));
      const start = [...take, ...head];
      functions.push(joined([body], ['', `/** ${pass}: ${title} */`, `function ${name}(${param}) {`, ...start.map((l) => IND + l), ...body.lines.map((l) => IND + l), '}']));
      calls.push(...call.map((c) => c.replace('#', name)));
    };
    fn('static', 'from the parameters (packed weights).', '', [], ['#();']);
    fn('pre', 'before the loop, every step at once (T·B rows).', '$T', ['const $TB = $T * $B;'], ['#($T);']);
    if (plan.phases.loop.length > 0 && plan.phases.loop.every((k) => k.k === 'scan')) fn('loop', `the recurrence${plan.phases.loop.length > 1 ? 's' : ''} over all T steps, one scan each (no loop over t).`, '$T', ['const $TB = $T * $B;'], ['#($T);']);
    else if (unrolled) fn('loop', `the ${this.t.cell.typed.steps} unrolled steps, at once.`, '', ['const $t = 0;'], ['#();']);
    else if (pass === 'forward') fn('loop', 'step t+1 of the recurrence (t = 0 … T-1).', '$t', [], ['for (let $t = 0; $t < $T; $t++) #($t);']);
    else fn('loop', 'step t+1 back through time (t = T-1 … 0); only the states\' cotangents are carried.', '$t', [], ['for (let $t = $T - 1; $t >= 0; $t--) #($t);']);
    fn('post', 'after the loop, every step at once (T·B rows).', '$T', ['const $TB = $T * $B;'], ['#($T);']);
    return { functions: joined(functions), calls };
  }
}
