// A model = input codes + stacks of cell layers + a head, arranged in one of the
// notes' four topologies. Building it plans the cell for every layer, names every
// parameter, and fixes their order (the order of checkpoints and of every sum).

import type { BackendFactory } from '../../backend.ts';
import type { CompiledCell } from '../../../compiler/compile.ts';
import type { Rng } from '../../random.ts';
import type { InputCode } from './embed.ts';
import { embedding, oneHot } from './embed.ts';
import { TrainError } from '../errors.ts';
import { UsageError } from '../../usage.ts';
import type { ScoreKind } from './heads.ts';
import { cellHeadKind, headSize } from './heads.ts';
import type { InitKind } from './init.ts';
import { glorot, initParam } from './init.ts';
import { CellLayer } from './layer.ts';
import { planCell } from './fit.ts';
import type { Block } from './stack.ts';
import { Stack } from './stack.ts';
import type { Table } from '../tensor.ts';

export type Topology = 'many-to-many' | 'many-to-one' | 'one-to-many' | 'encoder-decoder';

export interface ModelSpec {
  readonly topology: Topology;
  /** Source vocabulary (ignored by one-to-many, whose inputs are its own outputs). */
  readonly inVocab: number;
  /** Output classes (one-to-many and encoder–decoder: the target vocabulary, EOS included). */
  readonly classes: number;
  /** Embedding width, or 0 for one-hot inputs. */
  readonly embed: number;
  readonly hidden: number;
  readonly layers: number;
  readonly bidirectional: boolean;
  /** `auto`: the cell's ŷ^<t> when it has one and the top layer is unidirectional. */
  readonly head: 'auto' | 'cell' | 'runtime';
  readonly readout?: string;
  readonly dims?: Readonly<Record<string, number>>;
}

export interface SeqModule {
  readonly code: InputCode;
  readonly stack: Stack;
}

export interface Head {
  readonly source: 'cell' | 'runtime';
  readonly kind: ScoreKind;
  /** Number of scores per row. */
  readonly size: number;
  /** Runtime head: `W` [size × inSize] and `b`, reading the top output. */
  readonly W?: string;
  readonly b?: string;
  readonly inSize: number;
}

export interface Model {
  readonly spec: ModelSpec;
  /** The stack that reads the source (or, one-to-many, its own previous outputs). */
  readonly encoder: SeqModule;
  /** Encoder–decoder only: the stack that writes the target. */
  readonly decoder: SeqModule | null;
  readonly head: Head;
  /** Names and shapes, in order. */
  readonly shapes: ReadonlyMap<string, readonly number[]>;
}

export const TOPOLOGIES: readonly Topology[] = ['many-to-many', 'many-to-one', 'one-to-many', 'encoder-decoder'];

/** The module that produces the head's input: the decoder if there is one. */
export const outputModule = (m: Model): SeqModule => m.decoder ?? m.encoder;

export function buildModel(cell: CompiledCell, spec: ModelSpec, factory: BackendFactory): Model {
  const { topology, hidden, layers } = spec;
  if (!Number.isInteger(hidden) || hidden < 1) throw new UsageError('--hidden must be a whole number ≥ 1');
  if (!Number.isInteger(layers) || layers < 1) throw new UsageError('--layers must be a whole number ≥ 1');
  const bi = spec.bidirectional;
  if (bi && (topology === 'one-to-many' || topology === 'encoder-decoder'))
    throw new UsageError(`--bidirectional needs the whole input at once: it works for many-to-many and many-to-one, not ${topology}`);
  const hasCellHead = cellHeadKind(cell) !== null;
  if (spec.head === 'cell' && !hasCellHead) throw new UsageError(`--head cell: cell ${cell.name} defines no ŷ^<t>`);
  if (spec.head === 'cell' && bi) throw new UsageError('--head cell: a bidirectional layer concatenates two readouts, so it needs the runtime head');
  const cellHead = spec.head === 'cell' || (spec.head === 'auto' && hasCellHead && !bi);

  const shapes = new Map<string, readonly number[]>();
  const makeModule = (prefix: string, vocab: number, withHead: boolean): SeqModule => {
    let code: InputCode;
    if (spec.embed > 0) {
      code = embedding(`${prefix}embedding`, vocab, spec.embed);
      shapes.set(code.param!, [vocab, spec.embed]);
    } else code = oneHot(vocab);
    const blocks: Block[] = [];
    let inputSize = code.size;
    for (let l = 0; l < layers; l++) {
      const top = l === layers - 1;
      const plan = (p: string) => {
        const pl = planCell(cell, { inputSize, hidden, classes: spec.classes, useHead: top && withHead && cellHead, readout: spec.readout, dims: spec.dims });
        const layer = new CellLayer(pl, p, factory);
        for (const s of layer.paramShapes()) shapes.set(s.name, s.shape);
        return layer;
      };
      const block: Block = bi ? { kind: 'bi', fwd: plan(`${prefix}layer${l}.fwd.`), bwd: plan(`${prefix}layer${l}.bwd.`) } : { kind: 'uni', layer: plan(`${prefix}layer${l}.`) };
      blocks.push(block);
      inputSize = Stack.outSizeOf(block);
    }
    return { code, stack: new Stack(blocks) };
  };

  const encDec = topology === 'encoder-decoder';
  const encoder = makeModule(encDec ? 'encoder.' : '', topology === 'one-to-many' ? spec.classes : spec.inVocab, !encDec);
  const decoder = encDec ? makeModule('decoder.', spec.classes, true) : null;
  if (decoder) checkHandoff(encoder.stack, decoder.stack);

  const out = (decoder ?? encoder).stack;
  let head: Head;
  if (cellHead) {
    const plan = (out.top as Extract<Block, { kind: 'uni' }>).layer.plan;
    head = { source: 'cell', kind: plan.head!.kind, size: plan.head!.size, inSize: plan.head!.size };
  } else {
    const size = headSize('logits', spec.classes);
    head = { source: 'runtime', kind: 'logits', size, W: 'head.W', b: 'head.b', inSize: out.outSize };
    shapes.set('head.W', [size, out.outSize]);
    shapes.set('head.b', [size]);
  }
  return { spec, encoder, decoder, head, shapes };
}

/** The encoder's final states start the decoder: same states, same sizes, layer by layer. */
function checkHandoff(enc: Stack, dec: Stack): void {
  enc.blocks.forEach((e, i) => {
    const d = dec.blocks[i]!;
    if (e.kind !== 'uni' || d.kind !== 'uni') throw new TrainError('encoder–decoder layers must be unidirectional');
    for (const s of d.layer.plan.states) {
      const es = e.layer.plan.states.find((x) => x.name === s.name);
      if (!es || es.size !== s.size) throw new TrainError(`the encoder's final ${s.name} cannot start the decoder (sizes ${es?.size ?? 'none'} and ${s.size})`);
    }
  });
}

export interface InitOptions {
  readonly kind: InitKind;
  readonly forgetBias: number;
}

/** Fresh parameters in the model's order: embeddings N(0, 1), cell parameters by `initParam`, the head Glorot. */
export function initParams(model: Model, rng: Rng, o: InitOptions): Table {
  const t: Table = new Map();
  for (const [name, shape] of model.shapes) {
    const local = name.slice(name.lastIndexOf('.') + 1);
    let data: Float64Array;
    if (local === 'embedding') data = Float64Array.from({ length: shape[0]! * shape[1]! }, () => rng.normal());
    else if (name === 'head.W') data = glorot(shape[0]!, shape[1]!, rng);
    else if (name === 'head.b') data = new Float64Array(shape[0]!);
    else data = initParam(local, shape, o.kind, rng, o.forgetBias);
    t.set(name, { shape, data });
  }
  return t;
}
