"""The network: a two-hidden-layer ReLU MLP on the SNPs, plus a linear covariate term.

    output(x, c) = MLP(x) + c·w          (a logit for binary traits, a mean otherwise)

Covariates (PCs, age, sex) enter linearly, like the covariates of a GWAS: the MLP then
explains the genotypes' effect *beyond* population structure, and because the covariate
term is additive the DeepLIFT attributions of the SNPs do not depend on it. Each ReLU is
its own ``nn.ReLU`` module: Captum's DeepLift needs separate modules to apply its rules.

Input scaling (``model.input_scaling``): the SNP network multiplies its centred input by
a fixed per-SNP buffer ``input_scale`` before the first layer: 1 for ``centred`` and
1 / training-sample SD for ``standardised`` (0 for a SNP without variation). The buffer
is part of the state dict, so the model file carries the scaling and every consumer
(early stopping, evaluation, attribution) applies it. Attribution runs on the scaled
input (``SnpMLP.scaled_net``), so gradients are per SD of genotype under
``standardised`` and per allele under ``centred``.

Pairwise term (``model.pairwise: fm``, issue 10): a factorization machine (Rendle 2010) on
the same scaled inputs z is added to the MLP's output,

    FM(z) = ½ Σ_f [(Σ_i v_if z_i)² − Σ_i v_if² z_i²] = Σ_{i<j} <v_i, v_j> z_i z_j,

with V (n_snps × ``fm_rank``) the ``snps.fm_v`` parameter: every SNP pair gets a weight
without an O(M²) search. FM(z) has no marginal (linear) part, so a pure-epistatic pair can
be fitted by gradient descent from a small random V (V = 0 is a saddle point, hence the
non-zero initialisation). Attribution: the products are plain tensor operations, not
modules, so Captum's DeepLift passes *gradients* through them (no Rescale rule): on the FM
part its attribution is gradient × (z − r) at z, which does not sum to FM(z) − FM(r) (with
r = 0 it sums to 2·FM(z)); IntegratedGradients is exact on a quadratic (its path integral
of a linear gradient is the midpoint gradient) and is the method to use for fm models
(README; tests/unit/test_pairwise.py checks both). Model files without ``fm_v`` load as
``pairwise: none``.
"""

from __future__ import annotations

import re

import torch
from torch import nn


def parse_arch(arch: str) -> tuple[int, int]:
    """'64x256' -> (64, 256)."""
    match = re.fullmatch(r"([1-9][0-9]*)x([1-9][0-9]*)", arch)
    if not match:
        raise ValueError(f"architecture {arch!r} is not of the form '<hidden1>x<hidden2>', e.g. '64x256'")
    return int(match.group(1)), int(match.group(2))


INPUT_SCALINGS = ("centred", "standardised")
PAIRWISE = ("none", "fm")
FM_INIT_SD = 0.01  # V's initial entries ~ N(0, 0.01²): off the V = 0 saddle, FM(z) ≈ 0 at start


def fm_term(z: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """½ Σ_f [(z·v_f)² − (z²·v_f²)] for z (N, M), v (M, k) -> (N, 1)."""
    return 0.5 * ((z @ v) ** 2 - (z * z) @ (v * v)).sum(dim=1, keepdim=True)


class SnpMLP(nn.Module):
    """Genotypes -> x input_scale -> hidden1 -> ReLU -> hidden2 -> ReLU -> 1.

    The L1 penalty is on ``first.weight`` (and ``fm_v``); ``input_scale`` is a fixed buffer
    (see above). ``fm_rank`` > 0 adds the factorization-machine term FM(z).
    """

    def __init__(self, n_snps: int, hidden: tuple[int, int], fm_rank: int = 0):
        super().__init__()
        self.fm_v = nn.Parameter(torch.randn(n_snps, fm_rank) * FM_INIT_SD) if fm_rank > 0 else None
        self.register_buffer("input_scale", torch.ones(n_snps))
        self.first = nn.Linear(n_snps, hidden[0])
        self.relu1 = nn.ReLU()
        self.second = nn.Linear(hidden[0], hidden[1])
        self.relu2 = nn.ReLU()
        self.out = nn.Linear(hidden[1], 1)

    def layers(self, z: torch.Tensor) -> torch.Tensor:
        """The network on already-scaled inputs."""
        out = self.out(self.relu2(self.second(self.relu1(self.first(z)))))
        if self.fm_v is not None:
            out = out + fm_term(z, self.fm_v)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x * self.input_scale)

    def scaled_net(self) -> nn.Module:
        """A module computing the network from scaled inputs, for attribution."""
        return _ScaledInput(self)


class _ScaledInput(nn.Module):
    # holds the SnpMLP as a child, so Captum's hooks reach its ReLU modules
    def __init__(self, snps: SnpMLP):
        super().__init__()
        self.snps = snps

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.snps.layers(z)


class GenotypeModel(nn.Module):
    def __init__(self, n_snps: int, n_covariates: int, arch: str, pairwise: str = "none", fm_rank: int = 8):
        super().__init__()
        if pairwise not in PAIRWISE:
            raise ValueError(f"config key model.pairwise: {pairwise!r} is not one of {list(PAIRWISE)}")
        if pairwise == "fm" and not (isinstance(fm_rank, int) and fm_rank >= 1):
            raise ValueError(f"config key model.fm_rank: must be an integer >= 1, got {fm_rank!r}")
        self.arch = arch
        self.pairwise = pairwise
        self.snps = SnpMLP(n_snps, parse_arch(arch), fm_rank if pairwise == "fm" else 0)
        self.covariates = nn.Linear(n_covariates, 1, bias=False) if n_covariates else None

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        out = self.snps(x)
        if self.covariates is not None:
            out = out + self.covariates(c)
        return out.squeeze(-1)

    def l1_penalty(self, scaling: str, n_train: int) -> torch.Tensor:
        """L1 of the first-layer (SNP) weights, scaled as the config says (see config.yaml).

        With the FM term, the same λ and scaling also penalise |V|: row v_i is SNP i's
        entry into every pair, as column i of ``first.weight`` is its entry into the MLP,
        so L1 on V makes the pairwise term sparse in SNPs the way L1 makes the MLP sparse
        (``mean`` averages over the first-layer and V entries together). No L2 term: L1
        already bounds V, and the MLP has none either."""
        weights = [self.snps.first.weight]
        if self.snps.fm_v is not None:
            weights.append(self.snps.fm_v)
        total = sum(w.abs().sum() for w in weights)
        if scaling == "sum_over_n_train":
            return total / n_train
        if scaling == "mean":
            return total / sum(w.numel() for w in weights)
        raise ValueError(f"unknown l1_scaling {scaling!r}")
