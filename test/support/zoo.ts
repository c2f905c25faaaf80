// The zoo's files (examples/zoo/), shared by test/examples/zoo.test.ts and the printing tests.
import { readdirSync, readFileSync } from 'node:fs';

export const ZOO_DIR = new URL('../../examples/zoo/', import.meta.url);

export const zooFiles = (): string[] => readdirSync(ZOO_DIR).filter((f) => f.endsWith('.celda')).sort();
export const zooSource = (file: string): string => readFileSync(new URL(file, ZOO_DIR), 'utf8');
