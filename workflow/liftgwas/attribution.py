"""DeepLIFT SNP scores with Captum, streamed over sample chunks.

Captum's ``DeepLift`` (Rescale rule) on the SNP network of a trained model, in eval mode,
reference = the mean genotype of the training samples. For binary traits the attributed
output is the logit. Because covariates enter the output additively (see model.py), they
do not change the SNP attributions and are left out of the attributed network.

Attributions are computed ``chunk_size`` samples at a time and only summed per SNP
(Σ|attr| and Σ|attr|² for a standard error), so memory is O(chunk_size x M), never N x M.
Completeness is checked as we go: for every sample, sum(attr) must equal
f(x) - f(reference); the largest deviation is reported as the convergence delta.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from captum.attr import DeepLift

from .data import TrainingData
from .model import GenotypeModel

log = logging.getLogger(__name__)


@dataclass
class DeepLiftResult:
    score: np.ndarray  # mean |attribution| per SNP
    score_se: np.ndarray  # standard error of that mean over samples
    n_samples: int
    max_convergence_delta: float


def deeplift_scores(
    model: GenotypeModel,
    data: TrainingData,
    reference: torch.Tensor,
    split: str = "validation",
    chunk_size: int = 512,
    device: torch.device | str = "cpu",
) -> DeepLiftResult:
    device = torch.device(device)
    net = model.snps.to(device).eval()
    explainer = DeepLift(net)
    ref = reference.to(device).unsqueeze(0)
    m = data.n_snps
    sum_abs = torch.zeros(m, dtype=torch.float64, device=device)
    sum_sq = torch.zeros(m, dtype=torch.float64, device=device)
    max_delta, n = 0.0, 0
    total = len(data.splits[split].rows)
    for x, _, _ in data.batches(split, chunk_size, device=device):
        attr, delta = explainer.attribute(
            x.requires_grad_(True), baselines=ref.expand_as(x), return_convergence_delta=True
        )
        a = attr.detach().abs_()  # in place: no float64 copy of the chunk
        sum_abs += a.sum(0, dtype=torch.float64)
        sum_sq += a.square_().sum(0, dtype=torch.float64)
        max_delta = max(max_delta, float(delta.abs().max()))
        n += x.shape[0]
        log.info("DeepLIFT: %d / %d samples", n, total)
    if n == 0:
        raise ValueError(f"no samples in split {split!r} to attribute")
    mean = (sum_abs / n).cpu().numpy()
    var = (sum_sq / n).cpu().numpy() - mean**2
    se = np.sqrt(np.maximum(var, 0.0) / max(n - 1, 1))
    return DeepLiftResult(score=mean, score_se=se, n_samples=n, max_convergence_delta=max_delta)


def score_table(bim: pd.DataFrame, result: DeepLiftResult) -> pd.DataFrame:
    """Per-SNP score table in .bim order (the layout every downstream step reads)."""
    return pd.DataFrame(
        {
            "variant_id": bim["snp"].to_numpy(),
            "chromosome": bim["chrom"].to_numpy(),
            "base_pair_location": bim["pos"].to_numpy(),
            "score": result.score,
            "score_se": result.score_se,
        }
    )
