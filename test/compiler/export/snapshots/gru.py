# celda: the cell `GRU`, exported to PyTorch.
# Generated from the cell's graph by `celda export --to pytorch`; torch only.
#
# cell GRU {
#   input x : n_x
#   state c : n_a
#   param W_r : n_a × (n_a + n_x)
#   param b_r : n_a
#   param W_c : n_a × (n_a + n_x)
#   param b_c : n_a
#   param W_u : n_a × (n_a + n_x)
#   param b_u : n_a
#   Γ_r = σ(W_r[c^⟨t−1⟩, x^⟨t⟩] + b_r)
#   c̃^⟨t⟩ = tanh(W_c[Γ_r * c^⟨t−1⟩, x^⟨t⟩] + b_c)
#   Γ_u = σ(W_u[c^⟨t−1⟩, x^⟨t⟩] + b_u)
#   c^⟨t⟩ = Γ_u * c̃^⟨t⟩ + (1 − Γ_u) * c^⟨t−1⟩
#   a^⟨t⟩ = c^⟨t⟩
# }

import math
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


# The cell's interface: the dimension (a keyword of __init__, or a sum of them) of each input, state and output.
CELL = {
    "class": "GRU",
    "dims": ["n_x", "n_a"],
    "inputs": {"x": "n_x"},
    "states": {"c": "n_a"},
    "outputs": {"c_tilde": ["n_a"], "a": ["n_a"]},
    "steps": None,
}


class GRU(nn.Module):
    """GRU as a torch.nn.Module.

    forward(inputs, init) takes each input as [T, B, n] by name and returns
    (states, outputs): every state and per-step output over all steps, [T, B, n],
    by name (the meaning of `celda eval`). A state missing from init starts at the
    cell's declared initial value. Parameters are attributes under their names,
    matrices by rows (W v is F.linear(v, W)).

    Example: states, outputs = model({"x": x})
    """

    def __init__(self, *, n_x: int, n_a: int, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.n_x = n_x
        self.n_a = n_a
        self.W_r = nn.Parameter(torch.empty([n_a, n_a + n_x], dtype=dtype))
        self.b_r = nn.Parameter(torch.empty([n_a], dtype=dtype))
        self.W_c = nn.Parameter(torch.empty([n_a, n_a + n_x], dtype=dtype))
        self.b_c = nn.Parameter(torch.empty([n_a], dtype=dtype))
        self.W_u = nn.Parameter(torch.empty([n_a, n_a + n_x], dtype=dtype))
        self.b_u = nn.Parameter(torch.empty([n_a], dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """celda's default: uniform in ±1/√fan_in (a matrix's columns, a vector's length), from torch's generator."""
        with torch.no_grad():
            for p, fan_in in [(self.W_r, self.n_a + self.n_x), (self.b_r, self.n_a), (self.W_c, self.n_a + self.n_x), (self.b_c, self.n_a), (self.W_u, self.n_a + self.n_x), (self.b_u, self.n_a)]:
                s = 1.0 / math.sqrt(max(1, fan_in))
                p.uniform_(-s, s)

    def initial_states(self, B: int, ref: Tensor, init: Optional[Dict[str, Tensor]] = None) -> Dict[str, Tensor]:
        """The states at t = 0: those given in init, the others at the cell's declared initial value."""
        given: Dict[str, Tensor] = {}
        if init is not None:
            given = init
        states: Dict[str, Tensor] = {}
        if "c" in given:
            states["c"] = given["c"]
        else:
            states["c"] = torch.full([B, self.n_a], 0.0, dtype=ref.dtype, device=ref.device)
        return states

    def step(self, inputs_t: Dict[str, Tensor], states_prev: Dict[str, Tensor]) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        """One step: the inputs at t ([B, n] by name) and the states at t-1 → (states at t, outputs at t)."""
        c_prev = states_prev["c"]
        x_t = inputs_t["x"]
        # [c^⟨t−1⟩, x^⟨t⟩]
        c_prev_x_t = torch.cat([c_prev, x_t], -1)
        # Γ_r = σ(W_r[c^⟨t−1⟩, x^⟨t⟩] + b_r)
        Gamma_r = torch.sigmoid(F.linear(c_prev_x_t, self.W_r) + self.b_r)
        # c̃^⟨t⟩ = tanh(W_c[Γ_r * c^⟨t−1⟩, x^⟨t⟩] + b_c)
        c_tilde = torch.tanh(F.linear(torch.cat([Gamma_r * c_prev, x_t], -1), self.W_c) + self.b_c)
        # Γ_u = σ(W_u[c^⟨t−1⟩, x^⟨t⟩] + b_u)
        Gamma_u = torch.sigmoid(F.linear(c_prev_x_t, self.W_u) + self.b_u)
        # c^⟨t⟩ = Γ_u * c̃^⟨t⟩ + (1 − Γ_u) * c^⟨t−1⟩
        c = Gamma_u * c_tilde + (1.0 - Gamma_u) * c_prev
        # a^⟨t⟩ = c^⟨t⟩
        a = c
        return {"c": c}, {"c_tilde": c_tilde, "a": a}

    def forward(self, inputs: Dict[str, Tensor], init: Optional[Dict[str, Tensor]] = None) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        """Every step: inputs [T, B, n] by name → (states, outputs), each [T, B, n] by name."""
        ref = inputs["x"]
        T = ref.shape[0]
        B = ref.shape[1]
        states = self.initial_states(B, ref, init)
        c_steps: List[Tensor] = []
        c_tilde_steps: List[Tensor] = []
        a_steps: List[Tensor] = []
        for t in range(T):
            states, outputs = self.step({"x": inputs["x"][t]}, states)
            c_steps.append(states["c"])
            c_tilde_steps.append(outputs["c_tilde"])
            a_steps.append(outputs["a"])
        return {"c": torch.stack(c_steps)}, {"c_tilde": torch.stack(c_tilde_steps), "a": torch.stack(a_steps)}
