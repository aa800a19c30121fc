"""The network: a two-hidden-layer ReLU MLP on the SNPs, plus a linear covariate term.

    output(x, c) = MLP(x) + c·w          (a logit for binary traits, a mean otherwise)

Covariates (PCs, age, sex) enter linearly, like the covariates of a GWAS: the MLP then
explains the genotypes' effect *beyond* population structure, and because the covariate
term is additive the DeepLIFT attributions of the SNPs do not depend on it. Each ReLU is
its own ``nn.ReLU`` module: Captum's DeepLift needs separate modules to apply its rules.
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


class SnpMLP(nn.Module):
    """Genotypes -> hidden1 -> ReLU -> hidden2 -> ReLU -> 1. The L1 penalty is on ``first.weight``."""

    def __init__(self, n_snps: int, hidden: tuple[int, int]):
        super().__init__()
        self.first = nn.Linear(n_snps, hidden[0])
        self.relu1 = nn.ReLU()
        self.second = nn.Linear(hidden[0], hidden[1])
        self.relu2 = nn.ReLU()
        self.out = nn.Linear(hidden[1], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.relu2(self.second(self.relu1(self.first(x)))))


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
