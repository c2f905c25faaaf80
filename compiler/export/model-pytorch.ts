// export/model-pytorch: a model `celda train` trained → one Python module (torch
// only): the cell's class (pytorch.ts), then the model around it — the
// embedding or one-hot code, the stacked and bidirectional layers, the head —
// in the run's topology, a reader for its weights, and `predict`, `sample`,
// `decode` answering as `celda predict` and `celda sample` do. Pure
// description → string; the caller (cli/export.ts) reads the run directory.
//
// State-dict keys are the checkpoint's tensor names (`embedding`,
// `layer0.W_u`, `layer1.fwd.W_u`, `encoder.layer0.W_u`, `head.W`), each cell
// parameter under its Python name (the same for every ordinary name).
//
//   model = load()                          # the weights exported beside the module
//   model.predict([[3, 1, 4]])              # celda predict's answers, on token ids

import type { CompiledCell } from '../compile.ts';
import type { Diagnostic } from '../diagnostics.ts';
import { D } from '../diagnostics.ts';
import type { ExportResult } from './pytorch.ts';
import { exportPytorch } from './pytorch.ts';
import { pyComment, pyIdentifier, pyString } from './python-text.ts';

export type TrainedTopology = 'many-to-many' | 'many-to-one' | 'one-to-many' | 'encoder-decoder';
export type TrainedScores = 'logits' | 'softmax' | 'sigmoid';

/** One block of a stack: the cell once (uni), or forward and backward (bi). Each cell with its dimensions bound. */
export interface TrainedBlock {
  readonly kind: 'uni' | 'bi';
  readonly dims: Readonly<Record<string, number>>;
  /** The value the next block (or the head) reads, and its size (one direction's). */
  readonly readout: { readonly role: 'state' | 'output'; readonly name: string; readonly size: number };
}

/** A stack: its input code and its blocks. Tensor names are `prefix + embedding`, `prefix + layerI.…`. */
export interface TrainedStack {
  readonly prefix: '' | 'encoder.' | 'decoder.';
  readonly vocab: number;
  /** The embedding width, or 0 for a one-hot code of the vocabulary. */
  readonly embed: number;
  readonly blocks: readonly TrainedBlock[];
}

export interface TrainedModel {
  readonly cell: CompiledCell;
  readonly task: string;
  readonly topology: TrainedTopology;
  readonly classes: number;
  readonly eos?: number;
  readonly step: number;
  readonly encoder: TrainedStack;
  readonly decoder: TrainedStack | null;
  /** The cell's own ŷ^<t> (the top layer's), or a runtime dense layer `head.W` [size × inSize], `head.b`. */
  readonly head: { readonly source: 'cell' | 'runtime'; readonly kind: TrainedScores; readonly size: number; readonly inSize: number };
  /** The checkpoint's tensor names, in its order. */
  readonly tensors: readonly string[];
  /** The file name of the weights, beside the module. */
  readonly weights: string;
}

const IND = '    ';
const ind = (n: number) => (l: string) => (l ? IND.repeat(n) + l : l);

/** Module-level names of the model part; the cell's class must not take one. */
const MODEL_NAMES = ['Model', 'Stack', 'EncoderStack', 'DecoderStack', 'Bidirectional', 'Head', 'Rng', 'MODEL', 'WEIGHTS', 'embed', 'one_hot',
  'reverse_within', 'last_rows', 'class_log_probs', 'padded', 'sample_class', 'read_safetensors', 'load', 'json', 'os', 'struct', 'sys'];

export function exportTrainedPytorch(m: TrainedModel): ExportResult {
  const cellCode = exportPytorch(m.cell);
  if (!cellCode.ok) return cellCode;
  const cls = pyIdentifier(m.cell.name);
  const diagnostics: Diagnostic[] = [];
  if (MODEL_NAMES.includes(cls) || cls.startsWith('_')) diagnostics.push(D.exportName(m.cell.typed.span, 'PyTorch', m.cell.name, 'is a name the exported model uses itself'));
  if (diagnostics.length) return { ok: false, diagnostics };
  const parts = [
    cellCode.code.replace('\nimport math\n', '\nimport json\nimport math\nimport os\nimport struct\nimport sys\n'),
    '',
    ...new ModelText(m, cls).lines(),
  ];
  return { ok: true, code: parts.join('\n').replace(/[ ]+$/gm, '').replace(/\n{4,}/g, '\n\n\n') + (parts.at(-1)!.endsWith('\n') ? '' : '\n') };
}

class ModelText {
  private readonly t: CompiledCell['typed'];
  private readonly K: number;

  constructor(private readonly m: TrainedModel, private readonly cls: string) {
    this.t = m.cell.typed;
    this.K = m.head.size === 1 ? 2 : m.head.size;
  }

  lines(): string[] {
    const m = this.m;
    const L: string[] = ['# ---------------------------------------------------------------- the trained model', ''];
    L.push(...this.table(), '', '');
    L.push(...HELPERS.trim().split('\n'), '', '');
    L.push(...this.logProbsFn(), '', '');
    if (m.encoder.blocks.some((b) => b.kind === 'bi')) L.push(...BIDIRECTIONAL.trim().split('\n'), '', '');
    if (m.head.source === 'runtime') L.push(...HEAD.trim().split('\n'), '', '');
    if (m.decoder) {
      L.push(...this.stack('EncoderStack', m.encoder, false), '', '');
      L.push(...this.stack('DecoderStack', m.decoder, true), '', '');
    } else L.push(...this.stack('Stack', m.encoder, true), '', '');
    L.push(...this.model(), '', '');
    L.push(...LOAD.trim().split('\n'));
    return L;
  }

  private table(): string[] {
    const m = this.m;
    const key = (name: string) => {
      const dot = name.lastIndexOf('.');
      const local = name.slice(dot + 1);
      return local === 'embedding' || name.startsWith('head.') ? name : name.slice(0, dot + 1) + pyIdentifier(local);
    };
    return [
      '# The run: its task and shape, and where its weights are (celda export copied',
      '# the checkpoint\'s model.safetensors beside this module).',
      'MODEL = {',
      `    "task": ${pyString(m.task)},`,
      `    "topology": ${pyString(m.topology)},`,
      `    "cell": ${pyString(m.cell.name)},`,
      `    "step": ${m.step},`,
      `    "in_vocab": ${m.encoder.vocab},`,
      `    "classes": ${m.classes},`,
      `    "eos": ${m.eos ?? 'None'},`,
      `    "head": ${pyString(m.head.source)},`,
      `    "scores": ${pyString(m.head.kind)},`,
      `    "weights": ${pyString(m.weights)},`,
      '}',
      '',
      '# The state-dict key of each tensor of the checkpoint (its name; a cell',
      '# parameter under its Python name).',
      'WEIGHTS = {',
      ...m.tensors.map((n) => `    ${pyString(n)}: ${pyString(key(n))},`),
      '}',
    ];
  }

  /** log p(class) from the head's scores, as celda's classLogProbs computes it. */
  private logProbsFn(): string[] {
    const { kind, size } = this.m.head;
    const body = size === 1
      ? kind === 'logits'
        ? ['z = scores[..., 0]', 'zero = torch.zeros_like(z)', '# log(1 − σ(z)) = −softplus(z), log σ(z) = −softplus(−z)', 'return torch.stack([-torch.logaddexp(z, zero), -torch.logaddexp(-z, zero)], -1)']
        : ['p = scores[..., 0]', 'return torch.stack([torch.log((1.0 - p).clamp_min(1e-300)), torch.log(p.clamp_min(1e-300))], -1)']
      : kind === 'logits'
        ? ['return torch.log_softmax(scores, -1)']
        : kind === 'softmax'
          ? ['return torch.log(scores.clamp_min(1e-300))']
          : ['# one sigmoid per class, renormalised', 'return torch.log((scores / scores.sum(-1, keepdim=True)).clamp_min(1e-300))'];
    const what = size === 1 ? `one ${kind === 'logits' ? 'logit' : 'probability'} for two classes` : `${size} ${kind === 'logits' ? 'logits' : `${kind} probabilities`}`;
    return [
      'def class_log_probs(scores: Tensor) -> Tensor:',
      `${IND}"""log p(class) [..., ${this.K}] from the head's scores (${what}), as celda computes it."""`,
      ...body.map(ind(1)),
    ];
  }

  private cellCall(dims: Readonly<Record<string, number>>): string {
    return `${this.cls}(${this.t.dims.map((d) => `${pyIdentifier(d)}=${dims[d]}`).join(', ')}${this.t.dims.length ? ', ' : ''}dtype=dtype)`;
  }

  /** The first parameter of the first layer: the dtype and device new tensors take. */
  private refParam(s: TrainedStack): string {
    const p = this.t.params[0];
    if (s.embed > 0) return 'self.embedding';
    if (!p) return 'torch.zeros([])';
    return `self.layer0.${s.blocks[0]!.kind === 'bi' ? 'fwd.' : ''}${pyIdentifier(p.name)}`;
  }

  private stack(name: string, s: TrainedStack, withHead: boolean): string[] {
    const input = this.t.inputs[0]!.name;
    const L = [
      `class ${name}(nn.Module):`,
      `${IND}"""${s.embed > 0 ? `An embedding of ${s.vocab} tokens, width ${s.embed}` : `A one-hot code of ${s.vocab} tokens`}, then ${s.blocks.length} layer${s.blocks.length === 1 ? '' : 's'} of ${pyComment(this.m.cell.name).replace(/["\\]/g, '_')}."""`,
      '',
      `${IND}def __init__(self, dtype: torch.dtype = torch.float32) -> None:`,
      `${IND}${IND}super().__init__()`,
    ];
    if (s.embed > 0) L.push(`${IND}${IND}self.embedding = nn.Parameter(torch.zeros([${s.vocab}, ${s.embed}], dtype=dtype))`);
    s.blocks.forEach((b, i) => L.push(`${IND}${IND}self.layer${i} = ${b.kind === 'bi' ? `Bidirectional(${this.cellCall(b.dims)}, ${this.cellCall(b.dims)})` : this.cellCall(b.dims)}`));
    L.push('',
      `${IND}def run(self, ids: Tensor, lengths: Tensor, init: Optional[List[Dict[str, Tensor]]] = None) -> Tuple[Tensor, Optional[Tensor], List[Dict[str, Tensor]]]:`,
      `${IND}${IND}"""ids [T, B] (−1: padding, or the empty input ∅), lengths [B], each layer's initial states →`,
      `${IND}${IND}(the top layer's output [T, B, n], the cell's ŷ [T, B, C] when it is the head, each layer's states [T, B, n] by name)."""`,
      `${IND}${IND}x = ${s.embed > 0 ? 'embed(ids, self.embedding)' : `one_hot(ids, ${s.vocab}, ${this.refParam(s)})`}`,
      `${IND}${IND}states: List[Dict[str, Tensor]] = []`);
    let headVar = 'None';
    const key = (r: TrainedBlock['readout'], s: string, o: string) => `${r.role === 'state' ? s : o}[${pyString(r.name)}]`;
    s.blocks.forEach((b, i) => {
      const r = b.readout;
      if (b.kind === 'uni') {
        L.push(`${IND}${IND}# layer ${i}: reads ${pyComment(r.name)}`,
          `${IND}${IND}s, o = self.layer${i}({${pyString(input)}: x}, None if init is None else init[${i}])`,
          `${IND}${IND}states.append(s)`,
          `${IND}${IND}x = ${key(r, 's', 'o')}`);
        headVar = withHead && i === s.blocks.length - 1 && this.m.head.source === 'cell' ? 'o["y_hat"]' : 'None';
      } else {
        L.push(`${IND}${IND}# layer ${i}: bidirectional, reads ${pyComment(r.name)} forward and over each sequence reversed`,
          `${IND}${IND}sf, of = self.layer${i}.fwd({${pyString(input)}: x})`,
          `${IND}${IND}sb, ob = self.layer${i}.bwd({${pyString(input)}: reverse_within(x, lengths)})`,
          `${IND}${IND}states.append({})`,
          `${IND}${IND}x = torch.cat([${key(r, 'sf', 'of')}, reverse_within(${key(r, 'sb', 'ob')}, lengths)], -1)`);
        headVar = 'None';
      }
    });
    L.push(`${IND}${IND}return x, ${headVar}, states`);
    return L;
  }

  private model(): string[] {
    const m = this.m;
    const encDec = m.decoder !== null;
    const top = (m.decoder ?? m.encoder).blocks.at(-1)!;
    const scoresOf = (v: string, y: string) => (m.head.source === 'runtime' ? `self.head(${v})` : y);
    const L = [
      `class Model(${encDec ? 'nn.Module' : 'Stack'}):`,
      `${IND}"""The model celda train trained: ${m.topology}, task ${pyComment(m.task).replace(/["\\]/g, '_')}. Load it with load()."""`,
      '',
      `${IND}def __init__(self, dtype: torch.dtype = torch.float32) -> None:`,
      `${IND}${IND}super().__init__(${encDec ? '' : 'dtype'})`,
    ];
    if (encDec) L.push(`${IND}${IND}self.encoder = EncoderStack(dtype)`, `${IND}${IND}self.decoder = DecoderStack(dtype)`);
    if (m.head.source === 'runtime') L.push(`${IND}${IND}self.head = Head(${m.head.size}, ${m.head.inSize}, dtype)`);
    L.push('', `${IND}def device(self) -> torch.device:`, `${IND}${IND}return ${this.refParam(m.encoder).replace('self.', encDec ? 'self.encoder.' : 'self.')}.device`);
    const M = (lines: string[]) => L.push('', ...lines.map(ind(1)));

    switch (m.topology) {
      case 'many-to-one': {
        const summary = top.kind === 'bi'
          ? [`nf = ${top.readout.size}`, '# the forward half at each sequence\'s last step, the backward half at its first', 'summary = torch.cat([last_rows(top[:, :, :nf], lengths), top[0, :, nf:]], -1)']
          : ['summary = last_rows(top, lengths)'];
        M(['def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:',
          `${IND}"""ids [T, B], lengths [B] → the head's scores [B, ${m.head.size}] at each sequence's last step."""`,
          `${IND}top, y_hat, _ = self.run(ids, lengths)`,
          ...(m.head.source === 'cell' ? [`${IND}assert y_hat is not None`, `${IND}return last_rows(y_hat, lengths)`] : [...summary.map(ind(1)), `${IND}return self.head(summary)`])]);
        M(['def log_probs(self, ids: Tensor, lengths: Tensor) -> Tensor:',
          `${IND}"""log p(class) [B, ${this.K}]."""`,
          `${IND}return class_log_probs(self.forward(ids, lengths))`]);
        M(['def predict(self, sources: List[List[int]]) -> List[int]:',
          `${IND}"""celda predict: the likeliest class of each source (token ids)."""`,
          `${IND}ids, lengths = padded(sources, self.device())`,
          `${IND}with torch.no_grad():`,
          `${IND}${IND}return self.log_probs(ids, lengths).argmax(-1).tolist()`]);
        break;
      }
      case 'many-to-many':
        M(['def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:',
          `${IND}"""ids [T, B], lengths [B] → the head's scores [T, B, ${m.head.size}] at every step."""`,
          `${IND}top, y_hat, _ = self.run(ids, lengths)`,
          ...(m.head.source === 'cell' ? [`${IND}assert y_hat is not None`] : []),
          `${IND}return ${scoresOf('top', 'y_hat')}`]);
        M(['def log_probs(self, ids: Tensor, lengths: Tensor) -> Tensor:',
          `${IND}"""log p(class) [T, B, ${this.K}]."""`,
          `${IND}return class_log_probs(self.forward(ids, lengths))`]);
        M(['def predict(self, sources: List[List[int]]) -> List[List[int]]:',
          `${IND}"""celda predict: the likeliest class of every token of each source (token ids)."""`,
          `${IND}ids, lengths = padded(sources, self.device())`,
          `${IND}with torch.no_grad():`,
          `${IND}${IND}best = self.log_probs(ids, lengths).argmax(-1).t().tolist()`,
          `${IND}return [best[b][: len(s)] for b, s in enumerate(sources)]`]);
        break;
      case 'one-to-many':
        M(['def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:',
          `${IND}"""Teacher forcing: ids [T, B] are ∅ (−1) then each sequence's tokens but its last → the scores [T, B, ${m.head.size}] of the next token."""`,
          `${IND}top, y_hat, _ = self.run(ids, lengths)`,
          ...(m.head.source === 'cell' ? [`${IND}assert y_hat is not None`] : []),
          `${IND}return ${scoresOf('top', 'y_hat')}`]);
        M(['def log_probs(self, ids: Tensor, lengths: Tensor) -> Tensor:',
          `${IND}"""log p(next token) [T, B, ${this.K}]."""`,
          `${IND}return class_log_probs(self.forward(ids, lengths))`]);
        M(this.stepFn('self'));
        M(['def predict(self, sequences: List[List[int]]) -> List[float]:',
          `${IND}"""celda predict: the mean negative log-likelihood, in nats per token (EOS counted), of each sequence (token ids, without EOS)."""`,
          `${IND}eos = ${m.eos ?? -1}`,
          `${IND}ids, lengths = padded([[-1] + s for s in sequences], self.device())`,
          `${IND}with torch.no_grad():`,
          `${IND}${IND}lp = self.log_probs(ids, lengths)`,
          `${IND}out: List[float] = []`,
          `${IND}for b, s in enumerate(sequences):`,
          `${IND}${IND}target = s + [eos]`,
          `${IND}${IND}out.append(-sum(float(lp[t, b, y]) for t, y in enumerate(target)) / len(target))`,
          `${IND}return out`]);
        M(SAMPLE.trim().split('\n').map((l) => l.replace('EOS_ID', String(m.eos ?? -1))));
        break;
      case 'encoder-decoder':
        M(['def forward(self, src: Tensor, src_lengths: Tensor, ids: Tensor, lengths: Tensor) -> Tensor:',
          `${IND}"""Teacher forcing: the sources [T_x, B] (lengths [B]); the decoder reads ids [T_y, B], ∅ (−1) then each target but its last → the scores [T_y, B, ${m.head.size}] of the next token."""`,
          `${IND}top, y_hat, _ = self.decoder.run(ids, lengths, self.encode(src, src_lengths))`,
          ...(m.head.source === 'cell' ? [`${IND}assert y_hat is not None`] : []),
          `${IND}return ${scoresOf('top', 'y_hat')}`]);
        M(['def encode(self, src: Tensor, src_lengths: Tensor) -> List[Dict[str, Tensor]]:',
          `${IND}"""The encoder's states at each source's last step, [B, n] by name per layer: they start the decoder."""`,
          `${IND}_, _, states = self.encoder.run(src, src_lengths)`,
          `${IND}return [{k: last_rows(v, src_lengths) for k, v in s.items()} for s in states]`]);
        M(this.stepFn('self.decoder'));
        M(DECODE.trim().split('\n').map((l) => l.replace('EOS_ID', String(m.eos ?? -1))));
        break;
    }
    return L;
  }

  /** One step of the output stack from a carry: log p(next token) [B, K] and the new carry. */
  private stepFn(stack: string): string[] {
    const m = this.m;
    return [
      'def step(self, ids: Tensor, carry: Optional[List[Dict[str, Tensor]]]) -> Tuple[Tensor, List[Dict[str, Tensor]]]:',
      `${IND}"""One step for B rows: the previous tokens ids [B] (−1 for ∅) and each layer's states [B, n] → log p(next token) [B, ${this.K}] and the new states."""`,
      `${IND}top, y_hat, states = ${stack}.run(ids.unsqueeze(0), torch.ones_like(ids), carry)`,
      ...(m.head.source === 'cell' ? [`${IND}assert y_hat is not None`, `${IND}scores = y_hat[0]`] : [`${IND}scores = self.head(top[0])`]),
      `${IND}return class_log_probs(scores), [{k: v[0] for k, v in s.items()} for s in states]`,
    ];
  }
}

// ---------------------------------------------------------------- fixed text

const HELPERS = `
def embed(ids: Tensor, table: Tensor) -> Tensor:
    """Token ids [T, B] → rows of the embedding [T, B, n]; −1 (padding, ∅) is a zero vector."""
    keep = (ids >= 0).unsqueeze(-1).to(table.dtype)
    return table[ids.clamp(min=0)] * keep


def one_hot(ids: Tensor, vocab: int, ref: Tensor) -> Tensor:
    """Token ids [T, B] → one-hot vectors [T, B, vocab] in ref's dtype; −1 (padding, ∅) is a zero vector."""
    keep = (ids >= 0).unsqueeze(-1).to(ref.dtype)
    return F.one_hot(ids.clamp(min=0), vocab).to(ref.dtype) * keep


def reverse_within(x: Tensor, lengths: Tensor) -> Tensor:
    """Each sequence's first lengths[b] steps of x [T, B, n] in reverse order; padding rows stay put."""
    t = torch.arange(x.shape[0], device=x.device).unsqueeze(1)
    L = lengths.to(x.device).unsqueeze(0)
    rows = torch.where(t < L, L - 1 - t, t)
    return x.gather(0, rows.unsqueeze(-1).expand(x.shape))


def last_rows(x: Tensor, lengths: Tensor) -> Tensor:
    """Row lengths[b] − 1 of each sequence: [T, B, n] → [B, n]."""
    rows = (lengths.to(x.device) - 1).view(1, -1, 1).expand(1, x.shape[1], x.shape[2])
    return x.gather(0, rows).squeeze(0)


def padded(seqs: List[List[int]], device: Optional[torch.device] = None) -> Tuple[Tensor, Tensor]:
    """Token sequences → ids [T, B], −1 after each one's end, and lengths [B], as celda batches them."""
    T = max([1] + [len(s) for s in seqs])
    ids = torch.full([T, len(seqs)], -1, dtype=torch.long)
    for b, s in enumerate(seqs):
        if len(s) > 0:
            ids[: len(s), b] = torch.tensor(s, dtype=torch.long)
    return ids.to(device), torch.tensor([len(s) for s in seqs], dtype=torch.long, device=device)


class Rng:
    """celda's seeded generator (mulberry32), so that sample(seed=…) draws what celda sample --seed draws."""

    def __init__(self, seed: int) -> None:
        self.s = seed & 0xFFFFFFFF

    def next(self) -> float:
        self.s = (self.s + 0x6D2B79F5) & 0xFFFFFFFF
        t = self.s
        t = ((t ^ (t >> 15)) * (t | 1)) & 0xFFFFFFFF
        t = (t ^ ((t + (((t ^ (t >> 7)) * (t | 61)) & 0xFFFFFFFF)) & 0xFFFFFFFF)) & 0xFFFFFFFF
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296.0


def sample_class(lp: List[float], temperature: float, top_k: int, rng: Rng) -> int:
    """One class from log-probabilities under temperature and top-k, drawn as celda draws it."""
    K = len(lp)
    order = sorted(range(K), key=lambda i: (-lp[i], i))
    keep = order[: min(top_k, K) if top_k > 0 else K]
    m = lp[keep[0]]
    w = [math.exp((lp[i] - m) / temperature) for i in keep]
    total = 0.0
    for v in w:
        total += v
    u = rng.next() * total
    for j, i in enumerate(keep):
        u -= w[j]
        if u < 0:
            return i
    return keep[-1]
`;

const BIDIRECTIONAL = `
class Bidirectional(nn.Module):
    """One cell reading forward (fwd) and one reading each sequence reversed (bwd); their outputs concatenated."""

    def __init__(self, fwd: nn.Module, bwd: nn.Module) -> None:
        super().__init__()
        self.fwd = fwd
        self.bwd = bwd
`;

const HEAD = `
class Head(nn.Module):
    """The runtime's output layer: scores = W h + b, W [size × n] by rows."""

    def __init__(self, size: int, n: int, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.W = nn.Parameter(torch.zeros([size, n], dtype=dtype))
        self.b = nn.Parameter(torch.zeros([size], dtype=dtype))

    def forward(self, h: Tensor) -> Tensor:
        return F.linear(h, self.W, self.b)
`;

const SAMPLE = `
def sample(self, n: int = 10, greedy: bool = False, temperature: float = 1.0, top_k: int = 0, seed: int = 0, max_len: int = 32) -> List[List[int]]:
    """celda sample: n sequences (token ids, without EOS) from ∅, each token fed back in, up to EOS or max_len."""
    eos = EOS_ID
    rng = Rng(seed)
    out: List[List[int]] = [[] for _ in range(n)]
    done = [False] * n
    ids = torch.full([n], -1, dtype=torch.long, device=self.device())
    carry: Optional[List[Dict[str, Tensor]]] = None
    t = 0
    with torch.no_grad():
        while t < max_len and not all(done):
            lp, carry = self.step(ids, carry)
            if greedy:
                picked = lp.argmax(-1).tolist()
            else:
                rows = lp.tolist()
                picked = [sample_class(rows[b], temperature, top_k, rng) for b in range(n)]
            for b, c in enumerate(picked):
                if not done[b]:
                    if c == eos:
                        done[b] = True
                    else:
                        out[b].append(c)
            ids = torch.tensor(picked, dtype=torch.long, device=ids.device)
            t += 1
    return out
`;

const DECODE = `
def decode(self, sources: List[List[int]], max_len: int = 32) -> List[List[int]]:
    """Greedy decoding: the likeliest token at each step, for each source (token ids), up to EOS or max_len."""
    eos = EOS_ID
    src, src_lengths = padded(sources, self.device())
    out: List[List[int]] = [[] for _ in sources]
    done = [False] * len(sources)
    ids = torch.full([len(sources)], -1, dtype=torch.long, device=src.device)
    t = 0
    with torch.no_grad():
        carry = self.encode(src, src_lengths)
        while t < max_len and not all(done):
            lp, carry = self.step(ids, carry)
            ids = lp.argmax(-1)
            for b, c in enumerate(ids.tolist()):
                if not done[b]:
                    if c == eos:
                        done[b] = True
                    else:
                        out[b].append(c)
            t += 1
    return out

def beam_search(self, source: List[int], k: int, max_len: int = 32) -> List[int]:
    """Beam search of width k over summed log-probabilities, as celda predict --beam K: k rows always, the unused at −∞."""
    eos = EOS_ID
    inf = float("inf")
    src, src_lengths = padded([source], self.device())
    best: Optional[Tuple[List[int], float]] = None
    with torch.no_grad():
        rows = torch.zeros([k], dtype=torch.long, device=src.device)
        carry = [{name: v.index_select(0, rows) for name, v in s.items()} for s in self.encode(src, src_lengths)]
        hyps: List[Tuple[List[int], float]] = [([], 0.0 if i == 0 else -inf) for i in range(k)]
        for t in range(max_len):
            ids = torch.tensor([h[-1] if len(h) > 0 else -1 for h, _ in hyps], dtype=torch.long, device=src.device)
            lp, step_carry = self.step(ids, carry)
            lps = lp.tolist()
            cands: List[Tuple[float, int, int]] = []
            for r, (_, score) in enumerate(hyps):
                if score == -inf:
                    continue
                for c in range(len(lps[r])):
                    cands.append((score + lps[r][c], r, c))
            cands.sort(key=lambda x: (-x[0], x[1], x[2]))
            nxt: List[Tuple[List[int], float, int]] = []
            for score, parent, c in cands:
                if len(nxt) == k:
                    break
                tokens = list(hyps[parent][0])
                if c == eos:
                    if best is None or score > best[1]:
                        best = (tokens, score)
                    continue
                nxt.append((tokens + [c], score, parent))
            if len(nxt) == 0 or (best is not None and best[1] >= nxt[0][1]):
                break
            while len(nxt) < k:
                nxt.append(([], -inf, 0))
            parents = torch.tensor([p for _, _, p in nxt], dtype=torch.long, device=src.device)
            carry = [{name: v.index_select(0, parents) for name, v in s.items()} for s in step_carry]
            hyps = [(h, s) for h, s, _ in nxt]
    return best[0] if best is not None else hyps[0][0]

def predict(self, sources: List[List[int]], beam: int = 1, max_len: int = 32) -> List[List[int]]:
    """celda predict: each source's output tokens (without EOS), greedy or (beam > 1) by beam search."""
    if beam > 1:
        return [self.beam_search(s, beam, max_len) for s in sources]
    return self.decode(sources, max_len)
`;

const LOAD = `
def read_safetensors(path: str, reader: str = "auto") -> Dict[str, Tensor]:
    """The tensors of a safetensors file: with the safetensors package when it is
    installed ("auto", or "safetensors" to insist), else with the small reader
    below ("builtin" to insist)."""
    if reader not in ("auto", "safetensors", "builtin"):
        raise ValueError("reader must be auto, safetensors or builtin, not " + repr(reader))
    if reader != "builtin":
        try:
            from safetensors.torch import load_file
        except ImportError:
            if reader == "safetensors":
                raise
        else:
            return load_file(path)
    return _read_safetensors_builtin(path)


_DTYPES = {"F64": (torch.float64, 8), "F32": (torch.float32, 4), "F16": (torch.float16, 2), "BF16": (torch.bfloat16, 2),
           "I64": (torch.int64, 8), "I32": (torch.int32, 4), "I16": (torch.int16, 2), "I8": (torch.int8, 1), "U8": (torch.uint8, 1), "BOOL": (torch.bool, 1)}


def _read_safetensors_builtin(path: str) -> Dict[str, Tensor]:
    """The format: an 8-byte little-endian header length, a JSON header naming each
    tensor's dtype, shape and byte range, then the little-endian bytes."""
    with open(path, "rb") as f:
        data = f.read()
    bad = path + ": not a valid safetensors file: "
    if len(data) < 8:
        raise ValueError(bad + "too short")
    n = struct.unpack("<Q", data[:8])[0]
    if 8 + n > len(data):
        raise ValueError(bad + "the header does not fit in the file")
    header = json.loads(data[8 : 8 + n].decode("utf-8"))
    base = 8 + n
    out: Dict[str, Tensor] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if entry.get("dtype") not in _DTYPES:
            raise ValueError(bad + name + " has dtype " + repr(entry.get("dtype")))
        dtype, size = _DTYPES[entry["dtype"]]
        begin, end = entry["data_offsets"]
        shape = [int(d) for d in entry["shape"]]
        count = 1
        for d in shape:
            count *= d
        if end - begin != count * size or base + end > len(data):
            raise ValueError(bad + name + ": its bytes do not hold its shape")
        if count == 0:
            out[name] = torch.zeros(shape, dtype=dtype)
            continue
        raw = torch.frombuffer(bytearray(data[base + begin : base + end]), dtype=torch.uint8)
        if sys.byteorder == "big" and size > 1:
            raw = raw.view(-1, size).flip(-1).reshape(-1)
        out[name] = raw.view(dtype).reshape(shape).clone()
    return out


def load(path: Optional[str] = None, dtype: torch.dtype = torch.float32, reader: str = "auto") -> Model:
    """The trained model in eval mode, its weights read from path (default: the
    file celda export wrote beside this module) and converted to dtype."""
    if path is None:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), MODEL["weights"])
    tensors = read_safetensors(path, reader)
    missing = [k for k in WEIGHTS if k not in tensors]
    extra = [k for k in tensors if k not in WEIGHTS]
    if missing or extra:
        raise ValueError(path + ": not the weights of this model (missing: " + ", ".join(missing) + "; unexpected: " + ", ".join(extra) + ")")
    model = Model(dtype)
    model.load_state_dict({WEIGHTS[k]: t.to(dtype) for k, t in tensors.items()})
    model.eval()
    return model
`;

