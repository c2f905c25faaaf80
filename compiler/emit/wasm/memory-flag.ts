// Where a module says whether the memory it imports is shared: the limits flag of
// its memory import (1: unshared, with a maximum; 3: shared). celda builds each
// module once and carries that byte's offset with it (kernels-bytes.ts, loops-wat.ts),
// and the runtime sets the byte for the memory it has (emit/js/simd-helpers.ts).
// Found by reading the binary's import section: a few LEB128 fields, no second build.

/** The offset of the limits flag of `module`'s memory import; throws where it imports no memory or one without a maximum. */
export function memoryFlagAt(module: Uint8Array): number {
  let at = 8; // after the magic number and the version
  const uleb = (): number => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const b = module[at++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
  };
  const skip = (n: number) => (at += n);
  while (at < module.length) {
    const id = module[at++]!;
    const size = uleb();
    if (id !== 2) {
      skip(size);
      continue;
    }
    for (let n = uleb(); n > 0; n--) {
      skip(uleb()); // the module's name
      skip(uleb()); // the field's name
      const kind = module[at++];
      if (kind === 2) {
        if (module[at] !== 1 && module[at] !== 3) throw new Error(`the memory import's limits flag is ${module[at]}, not 1 or 3`);
        return at;
      }
      if (kind !== 0) throw new Error(`an import of kind ${kind} before the memory (celda's modules import functions and a memory only)`);
      uleb(); // a function's type
    }
    break;
  }
  throw new Error('the module imports no memory');
}
