// A cell of N equations in a chain (test support, and the compile-time benchmark
// of BENCHMARKS.md): h_0 = tanh(W a^<t-1> + U x^<t>), h_i = tanh(h_{i-1}),
// a^<t> = h_{N-1}. Compile time should grow about linearly with N.

export function chainCell(n: number): string {
  const lines = ['cell Chain {', '  input x : n_x', '  state a : n_a', '  h_0 = tanh(W a^<t-1> + U x^<t>)'];
  for (let i = 1; i < n; i++) lines.push(`  h_${i} = tanh(h_${i - 1})`);
  lines.push(`  a^<t> = h_${n - 1}`, '}', '');
  return lines.join('\n');
}
