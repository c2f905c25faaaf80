// The ONNX exporter's protobuf schema: the committed descriptor is what
// scripts/onnx-proto.ts makes of the committed official onnx.proto, and the
// export modules stay browser-safe (no node:* import, like the whole compiler).

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { onnxDescriptorModule } from '../../../scripts/onnx-proto.ts';

const DIR = join(import.meta.dirname, '..', '..', '..', 'compiler', 'export');

describe('ONNX protobuf schema', () => {
  it('compiler/export/onnx-proto.ts is generated from compiler/export/onnx.proto', () => {
    const proto = readFileSync(join(DIR, 'onnx.proto'), 'utf8');
    expect(proto).toContain('package onnx;');
    expect(readFileSync(join(DIR, 'onnx-proto.ts'), 'utf8')).toBe(onnxDescriptorModule(proto));
  });

  it('the export modules import nothing from node:*', () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(4);
    for (const f of files) expect(readFileSync(join(DIR, f), 'utf8'), f).not.toMatch(/from ['"]node:|require\(/);
  });
});
