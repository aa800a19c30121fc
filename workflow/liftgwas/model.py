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


class SnpMLP(nn.Module):
    """Genotypes -> x input_scale -> hidden1 -> ReLU -> hidden2 -> ReLU -> 1.

    The L1 penalty is on ``first.weight``; ``input_scale`` is a fixed buffer (see above).
    """

    def __init__(self, n_snps: int, hidden: tuple[int, int]):
        super().__init__()
        self.register_buffer("input_scale", torch.ones(n_snps))
        self.first = nn.Linear(n_snps, hidden[0])
        self.relu1 = nn.ReLU()
        self.second = nn.Linear(hidden[0], hidden[1])
        self.relu2 = nn.ReLU()
        self.out = nn.Linear(hidden[1], 1)

    def layers(self, z: torch.Tensor) -> torch.Tensor:
        """The network on already-scaled inputs."""
        return self.out(self.relu2(self.second(self.relu1(self.first(z)))))

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
    def __init__(self, n_snps: int, n_covariates: int, arch: str):
        super().__init__()
        self.arch = arch
        self.snps = SnpMLP(n_snps, parse_arch(arch))
        self.covariates = nn.Linear(n_covariates, 1, bias=False) if n_covariates else None

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        out = self.snps(x)
        if self.covariates is not None:
            out = out + self.covariates(c)
        return out.squeeze(-1)

    def l1_penalty(self, scaling: str, n_train: int) -> torch.Tensor:
        """L1 of the first-layer (SNP) weights, scaled as the config says (see config.yaml)."""
        w = self.snps.first.weight
        if scaling == "sum_over_n_train":
            return w.abs().sum() / n_train
        if scaling == "mean":
            return w.abs().mean()
        raise ValueError(f"unknown l1_scaling {scaling!r}")
