// Which WGSL product kernel pays on WebGPU in a software renderer (Chromium's
// SwiftShader): hand-written shaders for C = A·Bᵀ, A [M × K], B [N × K] (both
// read along K, as gpu.js's CPU layout reads a scan's products over all rows),
// timed in headless Chromium. Behind PlanOptions.quad (compiler/emit/gpujs/base.ts):
// one output per thread reading scalars is what gpu.js emits; vec4 reads alone
// gain nothing there; four outputs per thread do.
//
//   npx tsx bench/wgsl-products.ts [--m 8192] [--k 256] [--n 256] [--repeats 3]

import { parseArgs } from 'node:util';
import { CHROMIUM, browserMissing, openServedPage } from '../test/browser/browser.ts';
import { servePage } from '../test/browser/server.ts';

const { values: v } = parseArgs({ options: { m: { type: 'string', default: '8192' }, k: { type: 'string', default: '256' }, n: { type: 'string', default: '256' }, repeats: { type: 'string', default: '3' } } });
const [M, K, N, repeats] = [v.m, v.k, v.n, v.repeats].map(Number) as [number, number, number, number];
if (K % 4 || N % 16 || M % 4) { console.error('wgsl-products: K and M must divide by 4, N by 16'); process.exit(1); }
const missing = browserMissing();
if (missing) { console.error(`wgsl-products: needs Chromium: ${missing}`); process.exit(1); }

const head = (t: string) => `struct Params { outputX : u32, outputY : u32, outputZ : u32, w : u32, adims : vec4<u32>, bdims : vec4<u32>, pad : vec4<u32> }
@group(0) @binding(0) var<uniform> params : Params;
@group(0) @binding(1) var<storage, read> a : array<${t}>;
@group(0) @binding(2) var<storage, read> b : array<${t}>;
@group(0) @binding(3) var<storage, read_write> c : array<f32>;
`;
// accessors as gpu.js writes them: dims from the uniform, x + sizeX·(y + sizeY·z)
const get = (t: string, div: string) => `fn ga(z : i32, y : i32, x : i32) -> ${t} { return a[u32(x + i32(params.adims.x${div}) * (y + i32(params.adims.y) * z))]; }
fn gb(z : i32, y : i32, x : i32) -> ${t} { return b[u32(x + i32(params.bdims.x${div}) * (y + i32(params.bdims.y) * z))]; }
`;
const main = (guard: string, body: string) => `@compute @workgroup_size(8, 8, 1) fn main(@builtin(global_invocation_id) gid : vec3<u32>) {
  if (${guard}) { return; }
${body}
}`;
const dot4 = (u: string, w: string) => `${u}[0] * ${w}[0] + ${u}[1] * ${w}[1] + ${u}[2] * ${w}[2] + ${u}[3] * ${w}[3]`;
/** name → [WGSL, dispatch threads x, y] */
const VARIANTS: Record<string, [string, number, number]> = {
  'one output, scalar reads (gpu.js, sums unrolled by 4)': [head('f32') + get('f32', '') + main('gid.x >= params.outputX || gid.y >= params.outputY', `  let j = i32(gid.x); let r = i32(gid.y);
  var acc = 0.0;
  for (var k = 0; k < ${K}; k += 4) { acc += ga(0, r, k) * gb(0, j, k) + ga(0, r, k + 1) * gb(0, j, k + 1) + ga(0, r, k + 2) * gb(0, j, k + 2) + ga(0, r, k + 3) * gb(0, j, k + 3); }
  c[u32(j + ${N} * r)] = acc;`), N, M],
  'one output, vec4 reads': [head('vec4<f32>') + get('vec4<f32>', ' / 4u') + main('gid.x >= params.outputX || gid.y >= params.outputY', `  let j = i32(gid.x); let r = i32(gid.y);
  var acc = 0.0;
  for (var k = 0; k < ${K / 4}; k++) { let u = ga(0, r, k); let w = gb(0, j, k); acc += ${dot4('u', 'w')}; }
  c[u32(j + ${N} * r)] = acc;`), N, M],
  'four outputs, scalar reads': [head('f32') + get('f32', '') + main('gid.x >= params.outputX / 4u || gid.y >= params.outputY', `  let j = 4 * i32(gid.x); let r = i32(gid.y);
  var c0 = 0.0; var c1 = 0.0; var c2 = 0.0; var c3 = 0.0;
  for (var k = 0; k < ${K}; k++) { let u = ga(0, r, k); c0 += u * gb(0, j, k); c1 += u * gb(0, j + 1, k); c2 += u * gb(0, j + 2, k); c3 += u * gb(0, j + 3, k); }
  let o = u32(j + ${N} * r); c[o] = c0; c[o + 1u] = c1; c[o + 2u] = c2; c[o + 3u] = c3;`), N / 4, M],
  'four outputs, vec4 reads (PlanOptions.quad)': [head('vec4<f32>') + get('vec4<f32>', ' / 4u') + main('gid.x >= params.outputX / 4u || gid.y >= params.outputY', `  let j = 4 * i32(gid.x); let r = i32(gid.y);
  var c0 = 0.0; var c1 = 0.0; var c2 = 0.0; var c3 = 0.0;
  for (var k = 0; k < ${K / 4}; k++) { let u = ga(0, r, k); let w0 = gb(0, j, k); let w1 = gb(0, j + 1, k); let w2 = gb(0, j + 2, k); let w3 = gb(0, j + 3, k);
    c0 += ${dot4('u', 'w0')}; c1 += ${dot4('u', 'w1')}; c2 += ${dot4('u', 'w2')}; c3 += ${dot4('u', 'w3')}; }
  let o = u32(j + ${N} * r); c[o] = c0; c[o + 1u] = c1; c[o + 2u] = c2; c[o + 3u] = c3;`), N / 4, M],
  'four × four outputs, vec4 reads (no gpu.js kernel writes 16 floats)': [head('vec4<f32>') + main('gid.x >= params.outputX / 4u || gid.y >= params.outputY / 4u', `  let j = 4 * i32(gid.x); let r = 4 * i32(gid.y);
  var c0 = vec4<f32>(0.0); var c1 = vec4<f32>(0.0); var c2 = vec4<f32>(0.0); var c3 = vec4<f32>(0.0);
  for (var k = 0; k < ${K / 4}; k++) {
    let w0 = b[u32(k + ${K / 4} * j)]; let w1 = b[u32(k + ${K / 4} * (j + 1))]; let w2 = b[u32(k + ${K / 4} * (j + 2))]; let w3 = b[u32(k + ${K / 4} * (j + 3))];
    let u0 = a[u32(k + ${K / 4} * r)]; let u1 = a[u32(k + ${K / 4} * (r + 1))]; let u2 = a[u32(k + ${K / 4} * (r + 2))]; let u3 = a[u32(k + ${K / 4} * (r + 3))];
    c0 += vec4<f32>(dot(u0, w0), dot(u0, w1), dot(u0, w2), dot(u0, w3));
    c1 += vec4<f32>(dot(u1, w0), dot(u1, w1), dot(u1, w2), dot(u1, w3));
    c2 += vec4<f32>(dot(u2, w0), dot(u2, w1), dot(u2, w2), dot(u2, w3));
    c3 += vec4<f32>(dot(u3, w0), dot(u3, w1), dot(u3, w2), dot(u3, w3)); }
  for (var q = 0; q < 4; q++) { let o = u32(j + q + ${N} * r); c[o] = c0[q]; c[o + ${N}u] = c1[q]; c[o + ${2 * N}u] = c2[q]; c[o + ${3 * N}u] = c3[q]; }`), N / 4, M / 4],
};

// the gpu.js test page: a page of Chromium with WebGPU, as the tests get it
const { page, close } = await openServedPage(await servePage());
try {
  // tsx names the page function's inner functions with a helper the page lacks
  await page.evaluate('globalThis.__name = (f) => f');
  const times = await page.evaluate(async ({ variants, M, K, N, repeats }) => {
    const gpu = (navigator as unknown as { gpu: { requestAdapter(): Promise<{ requestDevice(): Promise<any> } | null> } }).gpu;
    const device = await (await gpu.requestAdapter())!.requestDevice();
    const U = (globalThis as any).GPUBufferUsage;
    const buffer = (n: number) => {
      const b = device.createBuffer({ size: n * 4, usage: U.STORAGE | U.COPY_DST });
      device.queue.writeBuffer(b, 0, Float32Array.from({ length: n }, (_, i) => Math.sin(i)));
      return b;
    };
    const [A, B, C] = [buffer(M * K), buffer(N * K), buffer(M * N)];
    const P = device.createBuffer({ size: 64, usage: U.UNIFORM | U.COPY_DST });
    device.queue.writeBuffer(P, 0, new Uint32Array([N, M, 1, 0, K, M, 1, 0, K, N, 1, 0, 0, 0, 0, 0]));
    const out: Record<string, number | string> = {};
    for (const [name, [code, x, y]] of Object.entries(variants)) {
      const module = device.createShaderModule({ code });
      const errors = (await module.getCompilationInfo()).messages.filter((m: { type: string }) => m.type === 'error');
      if (errors.length) { out[name] = errors.map((m: { message: string }) => m.message).join('; '); continue; }
      const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [P, A, B, C].map((b, binding) => ({ binding, resource: { buffer: b } })) });
      const run = async () => {
        const e = device.createCommandEncoder();
        const pass = e.beginComputePass();
        pass.setPipeline(pipeline); pass.setBindGroup(0, group); pass.dispatchWorkgroups(Math.ceil(x / 8), Math.ceil(y / 8)); pass.end();
        device.queue.submit([e.finish()]);
        await device.queue.onSubmittedWorkDone();
      };
      await run();
      const t0 = performance.now();
      for (let r = 0; r < repeats; r++) await run();
      out[name] = (performance.now() - t0) / repeats;
    }
    return out;
  }, { variants: VARIANTS, M, K, N, repeats });
  console.log(`C = A·Bᵀ, [${M} × ${N}] outputs of ${K} terms, WebGPU in headless Chromium (${CHROMIUM}), ms per dispatch, mean of ${repeats} after one:`);
  for (const [name, t] of Object.entries(times)) console.log(`  ${typeof t === 'number' ? t.toFixed(0).padStart(7) : `  error: ${t}`}  ${name}`);
} finally {
  await close();
}
