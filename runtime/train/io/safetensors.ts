// The safetensors format, written and read here (it is small): an 8-byte
// little-endian header length, a JSON header naming each tensor's dtype, shape
// and byte range, then the raw little-endian bytes. PyTorch
// (`safetensors.torch.load_file`) and JAX (`safetensors.flax.load_file`) read it.
// https://github.com/huggingface/safetensors#format

import { TrainError } from '../errors.ts';

export type DType = 'F64' | 'F32' | 'I32';
const BYTES: Record<DType, number> = { F64: 8, F32: 4, I32: 4 };

export interface NamedTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: Float64Array | Float32Array | Int32Array;
}

export interface SafeTensors {
  readonly tensors: Map<string, NamedTensor>;
  readonly metadata: Record<string, string>;
}

const MAX_HEADER = 100 * 1024 * 1024;

export function encodeSafetensors(tensors: ReadonlyMap<string, NamedTensor>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`safetensors: ${name} has ${t.data.length} values for shape [${t.shape}]`);
    const bytes = n * BYTES[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
  const raw = new TextEncoder().encode(json);
  const padded = Math.ceil(raw.length / 8) * 8;
  json += ' '.repeat(padded - raw.length);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let p = 8 + head.length;
  for (const t of tensors.values()) {
    for (let i = 0; i < t.data.length; i++, p += BYTES[t.dtype]) {
      if (t.dtype === 'F64') view.setFloat64(p, t.data[i]!, true);
      else if (t.dtype === 'F32') view.setFloat32(p, t.data[i]!, true);
      else view.setInt32(p, t.data[i]!, true);
    }
  }
  return out;
}

/** Parse and validate a safetensors file; `what` names it in errors. */
export function decodeSafetensors(bytes: Uint8Array, what: string): SafeTensors {
  const bad = (msg: string) => new TrainError(`${what}: not a valid safetensors file: ${msg}`);
  if (bytes.length < 8) throw bad('too short');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n > MAX_HEADER || 8 + n > bytes.length) throw bad(`header length ${n} does not fit in ${bytes.length} bytes`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw bad(`header is not JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad('header is not an object');
  const base = 8 + n, dataLen = bytes.length - base;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, NamedTensor>();
  const ranges: [number, number, string][] = [];
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (typeof v !== 'object' || v === null) throw bad('__metadata__ is not an object');
      for (const [k, s] of Object.entries(v)) { if (typeof s !== 'string') throw bad(`metadata ${k} is not a string`); metadata[k] = s; }
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) throw bad(`${name} is not a tensor entry`);
    if (e.dtype !== 'F64' && e.dtype !== 'F32' && e.dtype !== 'I32') throw bad(`${name} has dtype ${JSON.stringify(e.dtype)}; celda reads F64, F32 and I32`);
    const shape = e.shape, offs = e.data_offsets;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw bad(`${name} has shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isInteger(d) && d >= 0)) throw bad(`${name} has data_offsets ${JSON.stringify(offs)}`);
    const [b, end] = offs as [number, number];
    const count = (shape as number[]).reduce((a, d) => a * d, 1);
    if (end < b || end > dataLen || end - b !== count * BYTES[e.dtype]) throw bad(`${name}: bytes [${b}, ${end}) do not hold ${e.dtype} [${shape}] within ${dataLen} data bytes`);
    ranges.push([b, end, name]);
    const p0 = base + b;
    let data: NamedTensor['data'];
    if (e.dtype === 'F64') { data = new Float64Array(count); for (let i = 0; i < count; i++) data[i] = view.getFloat64(p0 + 8 * i, true); }
    else if (e.dtype === 'F32') { data = new Float32Array(count); for (let i = 0; i < count; i++) data[i] = view.getFloat32(p0 + 4 * i, true); }
    else { data = new Int32Array(count); for (let i = 0; i < count; i++) data[i] = view.getInt32(p0 + 4 * i, true); }
    tensors.set(name, { dtype: e.dtype, shape: shape as number[], data });
  }
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let at = 0;
  for (const [b, end, name] of ranges) {
    if (b !== at) throw bad(`${name} starts at byte ${b}, expected ${at} (overlap or hole)`);
    at = end;
  }
  if (at !== dataLen) throw bad(`${dataLen - at} bytes after the last tensor`);
  return { tensors, metadata };
}
