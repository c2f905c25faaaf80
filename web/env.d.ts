// The example cells, inlined by scripts/build-web.mjs (examples/cells/, examples/zoo/).
declare module 'celda:examples' {
  const examples: readonly { readonly group: string; readonly name: string; readonly source: string }[];
  export default examples;
}
