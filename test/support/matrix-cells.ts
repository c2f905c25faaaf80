// Cells with a matrix per example (issue 13, item 4), in the three spellings:
// an mLSTM-like step (Beck et al. 2024, xLSTM, eq. 19–27) and a Mamba-S6-like
// step (Gu & Dao 2023, alg. 2, eq. 2a–4). The gates are vectors (`diag(f) C`)
// where the papers have a scalar per example.

/** mLSTM (Beck et al. 2024, eq. 19–27) per step, the gates as vectors: C^<t> = f C^<t-1> + i v kᵀ, h = o ⊙ C q / max(|nᵀq|, 1) simplified. */
export const MLSTM = {
  unicode: `cell mLSTM {
  input x : n_x
  state C : d × d
  state n : d
  q = W_q x^⟨t⟩
  k = W_k x^⟨t⟩
  v = W_v x^⟨t⟩
  i = exp(W_i x^⟨t⟩ + b_i)
  f = σ(W_f x^⟨t⟩ + b_f)
  C^⟨t⟩ = diag(f) C^⟨t−1⟩ + diag(i) v kᵀ
  n^⟨t⟩ = f ⊙ n^⟨t−1⟩ + i ⊙ k
  h^⟨t⟩ = σ(W_o x^⟨t⟩) ⊙ (C^⟨t⟩ q) / (|n^⟨t⟩ ⊙ q| + 1)
}`,
  ascii: `cell mLSTM {
  input x : n_x
  state C : d * d
  state n : d
  q = W_q x^<t>
  k = W_k x^<t>
  v = W_v x^<t>
  i = exp(W_i x^<t> + b_i)
  f = sigma(W_f x^<t> + b_f)
  C^<t> = diag(f) C^<t-1> + diag(i) v k^T
  n^<t> = f * n^<t-1> + i * k
  h^<t> = sigma(W_o x^<t>) * (C^<t> @ q) / (abs(n^<t> * q) + 1)
}`,
  latex: String.raw`cell mLSTM {
  input x : n_x
  state C : d \times d
  state n : d
  q = W_{q} x^{<t>}
  k = W_{k} x^{<t>}
  v = W_{v} x^{<t>}
  i = \exp(W_{i} x^{<t>} + b_{i})
  f = \sigma(W_{f} x^{<t>} + b_{f})
  C^{<t>} = \operatorname{diag}(f) C^{<t-1>} + \mathrm{diag}(i) v k^\top
  n^{<t>} = f \odot n^{<t-1>} + i \odot k
  h^{<t>} = \sigma(W_{o} x^{<t>}) \odot \left(C^{<t>} \cdot q\right) / \left(\left| n^{<t>} \odot q \right| + 1\right)
}`,
};

/** Mamba's selective SSM per step (Gu & Dao 2023, alg. 2, eq. 2a–4; ZOH simplified as the paper's code does). */
export const S6 = {
  unicode: `cell S6 {
  input x : d
  state h : d × N
  Δ = softplus(W_{Δ} x^⟨t⟩ + b_{Δ})
  B = W_B x^⟨t⟩
  C = W_C x^⟨t⟩
  h^⟨t⟩ = exp(diag(Δ) A) ⊙ h^⟨t−1⟩ + (Δ ⊙ x^⟨t⟩) Bᵀ
  y^⟨t⟩ = h^⟨t⟩ C + D ⊙ x^⟨t⟩
}`,
  ascii: `cell S6 {
  input x : d
  state h : d * N
  Delta = softplus(W_Delta x^<t> + b_Delta)
  B = W_B x^<t>
  C = W_C x^<t>
  h^<t> = exp(diag(Delta) A) * h^<t-1> + (Delta * x^<t>) B^T
  y^<t> = h^<t> C + D * x^<t>
}`,
  latex: String.raw`cell S6 {
  input x : d
  state h : d \times N
  \Delta = \operatorname{softplus}(W_{\Delta} x^{<t>} + b_{\Delta})
  B = W_{B} x^{<t>}
  C = W_{C} x^{<t>}
  h^{<t>} = \exp\left(\operatorname{diag}(\Delta) A\right) \odot h^{<t-1>} + (\Delta \odot x^{<t>}) B^{T}
  y^{<t>} = h^{<t>} C + D \odot x^{<t>}
}`,
};

