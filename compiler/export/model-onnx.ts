// export/model-onnx: a model `celda train` trained (many-to-one or
// many-to-many) → one ONNX model with its trained weights, float32, opset 17:
// the input code (a Gather from the embedding, or from a one-hot table), each
// layer a `Scan` whose body is the cell's step graph (onnx.ts), a
// bidirectional layer's backward half over `ReverseSequence`, the summary at
// each sequence's last step, the head, and log p(class) as celda computes it.
//
//   inputs:  ids [T, B] int64 (−1 after a sequence's end), lengths [B] int64
//   outputs: scores [B, size] (many-to-one) or [T, B, size] (many-to-many),
//            log_probs [B, K] or [T, B, K] (K = 2 for a single score)
//
// Initializers are the checkpoint's tensors under their names (`embedding`,
// `layer0.W_u`, `layer1.fwd.W_u`, `head.W`). Generation (one-to-many,
// encoder–decoder) feeds each output back in, a loop over the model rather
// than a forward pass; it is refused with a pointer to the PyTorch export.

import type { Diagnostic } from '../diagnostics.ts';
import { D } from '../diagnostics.ts';
import type { Dim } from '../ir/dims.ts';
import { evalDim } from '../ir/dims.ts';
import { reachable } from '../ir/graph.ts';
import type { TrainedBlock, TrainedModel } from './model-pytorch.ts';
import type { Obj } from './onnx.ts';
import { ATTR, f32Bytes, FLOAT, GraphText, INT64, IR_VERSION, ModelProto, Namer, OPSET, scanBody, valueInfo } from './onnx.ts';

export type TrainedOnnxResult = { readonly ok: true; readonly bytes: Uint8Array } | { readonly ok: false; readonly diagnostics: readonly Diagnostic[] };

/** The smallest normal float32: celda's clamp before a log (1e-300 in float64). */
const TINY = 1.1754943508222875e-38;

export function exportTrainedOnnx(m: TrainedModel, params: Readonly<Record<string, { readonly shape: readonly number[]; readonly data: ArrayLike<number> }>>): TrainedOnnxResult {
  const t = m.cell.typed, g = m.cell.forward;
  if (m.topology !== 'many-to-one' && m.topology !== 'many-to-many')
    return { ok: false, diagnostics: [D.cannotExport(t.span, 'ONNX', `${m.topology === 'encoder-decoder' ? 'an' : 'a'} ${m.topology} model generates by feeding each output back in, a loop around the model, not one forward pass`, 'export it with --to pytorch, whose sample/decode/predict run that loop')] };
  const namer = new Namer();
  for (const n of ['ids', 'lengths', 'scores', 'log_probs', ...m.tensors]) namer.reserve(n);
  const main = new GraphText(namer, {}, () => 'ids', 1, t.span);
  const diagnostics: Diagnostic[] = [];
  const live = reachable(g);
  const input = t.inputs[0]!;
  const B = main.op('Slice', [main.op('Shape', ['ids']), main.i64([1]), main.i64([2])], {}, 'B');
  const s = m.encoder;

  // ids → vectors [T, B, n]: −1 reads a zero row appended to the table.
  const idx = main.op('Where', [main.op('Less', ['ids', main.i64Scalar(0)]), main.i64Scalar(s.vocab), 'ids'], {}, 'rows');
  let table: string;
  if (s.embed > 0) table = main.op('Concat', ['embedding', constF32(main, 'zero_row', [1, s.embed], new Float64Array(s.embed))], { axis: 0 });
  else {
    const eye = new Float64Array((s.vocab + 1) * s.vocab);
    for (let i = 0; i < s.vocab; i++) eye[i * s.vocab + i] = 1;
    table = constF32(main, 'one_hot', [s.vocab + 1, s.vocab], eye);
  }
  let x = main.op('Gather', [table, idx], { axis: 0 }, 'x');

  /** One Scan of the cell over x; its sequences by name (states and outputs). */
  const scan = (prefix: string, block: TrainedBlock, xs: string): Map<string, string> => {
    const body = scanBody(m.cell, namer, block.dims, live, (name) => prefix + name);
    if ('diagnostics' in body) { diagnostics.push(...body.diagnostics); return new Map(); }
    const inits = t.states.map((st) => {
      const n = sizeOf(st.dim, block.dims);
      const shape = main.op('Concat', [B, main.i64([n])], { axis: 0 });
      const out = namer.fresh(`${prefix}init_${st.name}`);
      main.nodes.push({ opType: 'ConstantOfShape', input: [shape], output: [out], name: out, attribute: [{ name: 'value', type: 4, t: { dataType: FLOAT, dims: [1], rawData: f32Bytes([st.init]) } }] });
      return out;
    });
    const finals = t.states.map((st) => namer.fresh(`${prefix}${st.name}_final`));
    const seqs = new Map([...t.states.map((st) => [st.name, namer.fresh(`${prefix}${st.name}`)] as const), ...t.outputs.map((o) => [o.name, namer.fresh(`${prefix}${o.name}`)] as const)]);
    main.nodes.push({
      opType: 'Scan', name: namer.fresh(`${prefix}scan`), input: [...inits, xs], output: [...finals, ...seqs.values()],
      attribute: [{ name: 'body', type: ATTR.GRAPH, g: body.body }, { name: 'num_scan_inputs', type: ATTR.INT, i: 1 }],
    });
    return seqs;
  };
  const reverse = (v: string) => main.op('ReverseSequence', [v, 'lengths'], { batch_axis: 1, time_axis: 0 });
  const lastRows = (v: string, n: number) => {
    const rows = main.op('Unsqueeze', [main.op('Sub', ['lengths', main.i64Scalar(1)]), main.i64([0, 2])]);
    const at = main.op('Expand', [rows, main.op('Concat', [main.i64([1]), B, main.i64([n])], { axis: 0 })]);
    return main.op('Squeeze', [main.op('GatherElements', [v, at], { axis: 0 }), main.i64([0])]);
  };

  let summary: string | null = null, yHat: string | null = null;
  s.blocks.forEach((b, i) => {
    const top = i === s.blocks.length - 1;
    const r = b.readout;
    if (b.kind === 'uni') {
      const seqs = scan(`layer${i}.`, b, x);
      x = seqs.get(r.name) ?? 'missing';
      if (top && m.head.source === 'cell') yHat = seqs.get('y_hat') ?? 'missing';
      if (top && m.topology === 'many-to-one') summary = lastRows(x, r.size);
    } else {
      const f = scan(`layer${i}.fwd.`, b, x).get(r.name) ?? 'missing';
      const bw = scan(`layer${i}.bwd.`, b, reverse(x)).get(r.name) ?? 'missing';
      x = main.op('Concat', [f, reverse(bw)], { axis: 2 }, `layer${i}`);
      // forward half at each sequence's last step; backward half at its first, where the reversed scan ends
      if (top && m.topology === 'many-to-one') summary = main.op('Concat', [lastRows(f, r.size), lastRows(bw, r.size)], { axis: 1 });
    }
  });
  if (diagnostics.length) return { ok: false, diagnostics };

  let scores: string;
  if (m.head.source === 'cell') scores = m.topology === 'many-to-one' ? lastRows(yHat!, m.head.size) : yHat!;
  else scores = main.op('Add', [main.op('MatMul', [m.topology === 'many-to-one' ? summary! : x, main.op('Transpose', ['head.W'], { perm: [1, 0] })]), 'head.b']);
  main.nodes.push({ opType: 'Identity', input: [scores], output: ['scores'], name: 'scores' });
  main.nodes.push({ opType: 'Identity', input: [logProbs(main, 'scores', m)], output: ['log_probs'], name: 'log_probs' });

  const lead = m.topology === 'many-to-one' ? ['B'] : ['T', 'B'];
  const K = m.head.size === 1 ? 2 : m.head.size;
  const used = new Set(main.nodes.flatMap((n) => collectInputs(n)));
  const model = {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'celda',
    docString: `celda trained model: task ${m.task} (${m.topology}), cell ${t.name}, step ${m.step}; inputs ids [T, B] int64 (-1 = padding), lengths [B] int64; outputs scores and log_probs`,
    graph: {
      name: 'model',
      node: main.nodes,
      input: [valueInfo('ids', ['T', 'B'], INT64), valueInfo('lengths', ['B'], INT64)],
      output: [valueInfo('scores', [...lead, m.head.size]), valueInfo('log_probs', [...lead, K])],
      initializer: m.tensors.filter((n) => used.has(n)).map((n) => ({ name: n, dataType: FLOAT, dims: [...params[n]!.shape], rawData: f32Bytes(params[n]!.data) })),
    },
  };
  const problem = ModelProto.verify(model);
  if (problem) throw new Error(`internal: ONNX model does not verify: ${problem}`);
  return { ok: true, bytes: ModelProto.encode(ModelProto.fromObject(model)).finish() };
}

function constF32(g: GraphText, name: string, dims: readonly number[], values: ArrayLike<number>): string {
  const out = g.op('Constant', [], {}, name);
  const node = g.nodes[g.nodes.length - 1]!;
  node.attribute = [{ name: 'value', type: 4, t: { name: out, dataType: FLOAT, dims: [...dims], rawData: f32Bytes(values) } }];
  return out;
}

/** log p(class) from the scores, as celda's classLogProbs. */
function logProbs(g: GraphText, scores: string, m: TrainedModel): string {
  const { kind, size } = m.head;
  const safeLog = (v: string) => g.op('Log', [g.op('Max', [v, g.f32(TINY)])]);
  if (size === 1) {
    if (kind === 'logits') return g.op('Concat', [g.op('Neg', [g.op('Softplus', [scores])]), g.op('Neg', [g.op('Softplus', [g.op('Neg', [scores])])])], { axis: -1 });
    return g.op('Concat', [safeLog(g.op('Sub', [g.f32(1), scores])), safeLog(scores)], { axis: -1 });
  }
  if (kind === 'logits') return g.op('LogSoftmax', [scores], { axis: -1 });
  if (kind === 'softmax') return safeLog(scores);
  return safeLog(g.op('Div', [scores, g.op('ReduceSum', [scores, g.i64([-1])], { keepdims: 1 })]));
}

const sizeOf = (d: Dim, env: Readonly<Record<string, number>>) => evalDim(d, env)!;

/** Every value a node reads, its subgraphs' included (a Scan body reads the layer's parameters). */
function collectInputs(n: Obj): string[] {
  const own = (n.input as string[] | undefined) ?? [];
  const sub = ((n.attribute as Obj[] | undefined) ?? []).flatMap((a) => (a.g ? ((a.g as Obj).node as Obj[]).flatMap(collectInputs) : []));
  return [...own, ...sub];
}
