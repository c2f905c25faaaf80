// The browser's stand-in for `node:module` (scripts/build-web.mjs swaps it in):
// runtime/train/data/tasks/common.ts loads a dataset with
// `createRequire(…)(name)(…args)`; here `require(name)` answers with the data the
// training worker fetched from dist-web/data/ and registered with `provide`.

const data = new Map<string, unknown>();

/** Register a dataset package's value (what its main export returns). */
export function provide(name: string, value: unknown): void {
  data.set(name, value);
}

export function createRequire(_from: string | URL): (name: string) => unknown {
  return (name: string) => {
    if (!data.has(name)) throw new Error(`Cannot find module '${name}' (the playground has not loaded its data)`);
    const value = data.get(name);
    return () => value;
  };
}
