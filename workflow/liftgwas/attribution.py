"""SNP attribution scores with Captum, streamed over sample chunks.

The attributed network is the SNP network of a trained model, in eval mode, fed with its
*scaled* input z = (dosage - store mean) x input_scale (model.py: 1 per SNP for
``centred``, 1 / training SD for ``standardised``); for binary traits the attributed
output is the logit. Because covariates enter the output additively (see model.py), they
do not change the SNP attributions and are left out of the attributed network.

``attribution.method`` picks Captum's method; per SNP j and validation sample x the
attribution a_j(x) is (score = mean over samples of |a_j(x)|, for every method):

* ``deeplift`` (default, the paper's): DeepLift, Rescale rule, reference r = the mean
  genotype of the training samples. a_j is SNP j's contribution of (z_j - r_j) to the
  logit; sum_j a_j = f(x) - f(r) exactly (checked: the convergence delta). Because a_j
  carries the factor (z_j - r_j), |a_j| grows with the SNP's genotype spread under
  centred inputs.
* ``deeplift_shap``: DeepLiftShap, the same rule averaged over ``shap_samples`` training
  samples as references (drawn from the path seed); sum_j a_j = f(x) - mean_b f(b).
* ``integrated_gradients``: IntegratedGradients from r with ``ig_steps`` Gauss-Legendre
  steps; a_j = (z_j - r_j) x the path-averaged gradient; sum_j a_j ~ f(x) - f(r).
* ``saliency``: the gradient df/dz_j at x (Simonyan et al. 2014): sensitivity per unit of
  network input, i.e. per allele (centred) or per genotype SD (standardised). It has no
  (z_j - r_j) factor, so no spread term; no completeness property.
* ``gradient_shap``: GradientShap (expected gradients): gradients at random points between
  x and ``shap_samples`` random training references, times (x - b); sum_j a_j equals
  f(x) - E f(b) only in expectation (the delta is recorded, not required to be small).

``attribution.smoothgrad: true`` wraps the method in Captum's NoiseTunnel (SmoothGrad,
Smilkov et al. 2017): a_j is averaged over ``smoothgrad_samples`` copies of z with
Gaussian noise of SD ``smoothgrad_noise_sd`` (network-input units: alleles or SDs) added;
no completeness check then. For ``gradient_shap`` the noise goes into GradientShap's own
``stdevs`` (Captum's SmoothGrad form of it), with ``shap_samples`` draws; ``deeplift_shap``
has no SmoothGrad form (NoiseTunnel cannot carry a reference distribution). Every random draw (references, noise, path points) comes
from the run's seed (the path) and the chunk number, so CPU runs repeat bit for bit for a
given chunk size.

Attributions are computed ``chunk_size`` samples at a time (methods that expand a
sample into several evaluations run on sub-chunks, so memory stays O(chunk_size x M))
and only summed per SNP (Σ|attr| and Σ|attr|² for a standard error), never N x M.

Direction: the attribution a_j of SNP j is its contribution of (x_j - r_j), x_j the dosage
of the .bim A1 allele and r_j the reference, so its plain mean over samples is ~0 (r is the
mean genotype) and does not change sign when A1 and A2 are swapped (x - r and the weights
both flip). The signed, per-allele attribution is therefore the least-squares slope of a_j on
(x_j - r_j) in dosage units: Σ a·(x - r) / Σ (x - r)², the change in the attributed output
per extra copy of A1 (for a linear network exactly its weight); it flips sign with A1/A2
(tested).
"""

from __future__ import annotations

import logging
import warnings
import math
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch
from captum.attr import DeepLift, DeepLiftShap, GradientShap, IntegratedGradients, NoiseTunnel, Saliency

from .data import TrainingData
from .device_decode import attribution_chunk_size
from .model import GenotypeModel
from .progress import Progress
from .schema import settings_from_section

log = logging.getLogger(__name__)

METHODS = ("deeplift", "deeplift_shap", "integrated_gradients", "saliency", "gradient_shap")
SCORE_DEFINITIONS = {
    "deeplift": "mean |DeepLIFT (Rescale) contribution to the logit| vs the training-mean genotype",
    "deeplift_shap": "mean |DeepLiftShap contribution to the logit| vs shap_samples training samples",
    "integrated_gradients": "mean |integrated gradient x (input - training mean)| (ig_steps steps)",
    "saliency": "mean |d logit / d input| (per allele if centred, per genotype SD if standardised)",
    "gradient_shap": "mean |expected gradient x (input - reference)| over shap_samples training references",
}


@dataclass(frozen=True)
class AttributionSettings:
    method: str = "deeplift"
    smoothgrad: bool = False
    smoothgrad_samples: int = 16
    smoothgrad_noise_sd: float = 0.3
    ig_steps: int = 32
    shap_samples: int = 32

    @classmethod
    def from_config(cls, section: dict | None) -> "AttributionSettings":
        """From the config's ``attribution:`` section (absent keys take the defaults)."""
        return settings_from_section(cls, section, "attribution")

    def validate(self) -> None:
        """Errors name the config key of the bad value."""
        if self.method not in METHODS:
            raise ValueError(f"config key attribution.method: {self.method!r} is not one of {list(METHODS)}")
        if not isinstance(self.smoothgrad, bool):
            raise ValueError(f"config key attribution.smoothgrad: must be true or false, got {self.smoothgrad!r}")
        for key in ("smoothgrad_samples", "ig_steps", "shap_samples"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"config key attribution.{key}: must be a positive integer, got {value!r}")
        noise = self.smoothgrad_noise_sd
        if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not math.isfinite(noise) or noise <= 0:
            raise ValueError(f"config key attribution.smoothgrad_noise_sd: must be a positive number, got {noise!r}")
        if self.smoothgrad and self.method == "deeplift_shap":
            # Captum's NoiseTunnel cannot carry a reference distribution
            raise ValueError("config key attribution.smoothgrad: not available with method deeplift_shap")

    @property
    def label(self) -> str:
        return f"{self.method}+smoothgrad" if self.smoothgrad else self.method

    def describe(self) -> dict:
        """What the output records: the method, its settings and the score definition."""
        score = SCORE_DEFINITIONS[self.method]
        if self.smoothgrad:
            score += f", each averaged over {self.smoothgrad_samples} noisy copies (SD {self.smoothgrad_noise_sd:g})"
        return {"method": self.label, **asdict(self), "score_definition": score}


@dataclass
class DeepLiftResult:
    score: np.ndarray  # mean |attribution| per SNP
    score_se: np.ndarray  # standard error of that mean over samples
    n_samples: int
    max_convergence_delta: float | None  # None for methods without a completeness property
    method: str = "deeplift"
    attribution_per_allele: np.ndarray | None = None  # signed: Σ a(x - r) / Σ (x - r)² per SNP


@contextmanager
def _seeded(seed: int, device: torch.device):
    """Seed torch's and numpy's global generators (Captum draws from both) for one chunk,
    restoring the caller's states afterwards."""
    devices = [device.index or 0] if device.type == "cuda" else []
    np_state = np.random.get_state()
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        try:
            yield
        finally:
            np.random.set_state(np_state)


def _sub_chunks(z: torch.Tensor, size: int):
    for i in range(0, z.shape[0], max(size, 1)):
        yield z[i : i + size]


def chunk_explainer(net: torch.nn.Module, settings: AttributionSettings, reference: torch.Tensor,
                    references: torch.Tensor | None, chunk_size: int, seed: int, device: torch.device):
    """A function (z, chunk index) -> (attributions, convergence delta or None) for one
    chunk of scaled inputs ``z``; ``reference`` (M,) is the single baseline, ``references``
    (K, M) the reference samples of the SHAP methods (both in scaled input space)."""
    method = settings.method
    ref = reference.unsqueeze(0)
    if method == "deeplift":
        base, expansion = DeepLift(net), 1
        kwargs = lambda z: {"baselines": ref if settings.smoothgrad else ref.expand_as(z)}  # noqa: E731
    elif method == "deeplift_shap":
        base, expansion = DeepLiftShap(net), references.shape[0]
        kwargs = lambda z: {"baselines": references}  # noqa: E731
    elif method == "integrated_gradients":
        base, expansion = IntegratedGradients(net), settings.ig_steps
        kwargs = lambda z: {"baselines": ref, "n_steps": settings.ig_steps,  # noqa: E731
                            "internal_batch_size": max(chunk_size, 1)}
        expansion = 1  # internal_batch_size bounds its memory already
    elif method == "saliency":
        base, expansion = Saliency(net), 1
        kwargs = lambda z: {"abs": False}  # noqa: E731
    elif method == "gradient_shap":
        base, expansion = GradientShap(net), settings.shap_samples
        # GradientShap is itself a noise tunnel: SmoothGrad = its own input noise (stdevs)
        noise = float(settings.smoothgrad_noise_sd) if settings.smoothgrad else 0.0
        kwargs = lambda z: {"baselines": references, "n_samples": settings.shap_samples, "stdevs": noise}  # noqa: E731
    else:
        raise ValueError(f"config key attribution.method: {method!r} is not one of {list(METHODS)}")
    has_delta = method != "saliency" and not settings.smoothgrad
    if settings.smoothgrad and method != "gradient_shap":
        tunnel = NoiseTunnel(base)
        expansion *= settings.smoothgrad_samples

        def run(z):
            return tunnel.attribute(z, nt_type="smoothgrad", nt_samples=settings.smoothgrad_samples,
                                    stdevs=float(settings.smoothgrad_noise_sd), **kwargs(z)), None
    else:
        def run(z):
            if has_delta:
                return base.attribute(z, return_convergence_delta=True, **kwargs(z))
            return base.attribute(z, **kwargs(z)), None

    sub = max(chunk_size // expansion, 1)

    def explain(z: torch.Tensor, chunk_index: int):
        parts, deltas = [], []
        with _seeded(seed * 1_000_003 + chunk_index, device):
            for piece in _sub_chunks(z, sub):
                attr, delta = run(piece.detach().requires_grad_(True))
                parts.append(attr.detach())
                if delta is not None:
                    deltas.append(float(delta.abs().max()))
        return torch.cat(parts), (max(deltas) if deltas else None)

    return explain


def reference_samples(model: GenotypeModel, data: TrainingData, n: int, seed: int, device) -> torch.Tensor:
    """``n`` training samples (drawn from ``seed``) in the scaled input space: the
    reference distribution of deeplift_shap and gradient_shap."""
    positions = data.sample_rows("train", n, seed)
    scale = model.snps.input_scale.detach().to(device)
    return data.decode_split("train", positions, device=device) * scale


def deeplift_scores(
    model: GenotypeModel,
    data: TrainingData,
    reference: torch.Tensor,
    split: str = "validation",
    chunk_size: int = 512,
    device: torch.device | str = "cpu",
    settings: AttributionSettings | None = None,
    seed: int = 0,
) -> DeepLiftResult:
    """Per-SNP scores of ``settings.method`` (default DeepLIFT) over one split.

    ``reference`` is the centred training-mean genotype (as the model file stores it);
    ``seed`` (the run's seed, from its path) drives every random draw of the method.
    A model alone is a block of one (``deeplift_scores_many``): the same arithmetic.
    """
    return deeplift_scores_many([model], data, [reference], split, chunk_size, device, settings, [seed])[0]


class _Accumulator:
    """One model's running per-SNP sums over the chunks of a pass."""

    def __init__(self, model: GenotypeModel, data: TrainingData, reference: torch.Tensor, settings, chunk_size: int,
                 seed: int, device: torch.device):
        self.model = model.to(device).eval()
        self.scale = model.snps.input_scale.detach()
        net = model.snps.scaled_net().eval()
        ref = reference.to(device) * self.scale
        references = None
        if settings.method in ("deeplift_shap", "gradient_shap"):
            references = reference_samples(model, data, settings.shap_samples, seed, device)
        self.explain = chunk_explainer(net, settings, ref, references, chunk_size, seed, device)
        m = data.n_snps
        self.sum_abs = torch.zeros(m, dtype=torch.float64, device=device)
        self.sum_sq = torch.zeros(m, dtype=torch.float64, device=device)
        self.sum_ad = torch.zeros(m, dtype=torch.float64, device=device)  # Σ a·(x - r): the signed direction
        self.sum_dd = torch.zeros(m, dtype=torch.float64, device=device)  # Σ (x - r)², r unscaled (per allele)
        self.ref_dosage = reference.to(device).unsqueeze(0)
        self.max_delta = None

    def add(self, x: torch.Tensor, chunk_index: int) -> None:
        attr, delta = self.explain(x * self.scale, chunk_index)
        _accumulate_direction(attr, x.detach() - self.ref_dosage, self.sum_ad, self.sum_dd)
        a = attr.abs_()  # in place: no float64 copy of the chunk
        self.sum_abs += a.sum(0, dtype=torch.float64)
        self.sum_sq += a.square_().sum(0, dtype=torch.float64)
        if delta is not None:
            self.max_delta = delta if self.max_delta is None else max(self.max_delta, delta)

    def result(self, n: int, label: str) -> DeepLiftResult:
        mean = (self.sum_abs / n).cpu().numpy()
        var = (self.sum_sq / n).cpu().numpy() - mean**2
        se = np.sqrt(np.maximum(var, 0.0) / max(n - 1, 1))
        return DeepLiftResult(score=mean, score_se=se, n_samples=n, max_convergence_delta=self.max_delta,
                              method=label, attribution_per_allele=per_allele(self.sum_ad, self.sum_dd))


def deeplift_scores_many(
    models: list[GenotypeModel],
    data: TrainingData,
    references: list[torch.Tensor],
    split: str = "validation",
    chunk_size: int = 512,
    device: torch.device | str = "cpu",
    settings: AttributionSettings | None = None,
    seeds: list[int] | None = None,
) -> list[DeepLiftResult]:
    """``deeplift_scores`` of several models of one dataset in one pass over the split:
    each chunk of samples is decoded once and attributed by every model in turn (a block
    job's cells). Each model keeps its own reference, seed (random draws) and sums, so
    its result is the one it gets alone, bit for bit on CPU (tested)."""
    settings = settings or AttributionSettings()
    settings.validate()
    device = torch.device(device)
    seeds = list(seeds) if seeds is not None else [0] * len(models)
    if not (len(models) == len(references) == len(seeds)):
        raise ValueError("one reference and one seed per model")
    total = len(data.splits[split].rows)
    # used as given on the CPU; on a GPU as large as its free memory allows
    # (device_decode.attribution_chunk_size): a few large passes keep it busy
    chunk_size = attribution_chunk_size(chunk_size, data.n_snps, device, n_samples=total)
    accumulators = [_Accumulator(m, data, r, settings, chunk_size, s, device)
                    for m, r, s in zip(models, references, seeds)]
    n = 0
    what = "DeepLIFT" if settings.label == "deeplift" else settings.label
    progress = Progress(f"{what} ({split})", total)
    for chunk_index, (x, _, _) in enumerate(data.batches(split, chunk_size, device=device)):
        for acc in accumulators:
            acc.add(x, chunk_index)
        n += x.shape[0]
        progress.update(x.shape[0])
    if n == 0:
        raise ValueError(f"no samples in split {split!r} to attribute")
    return [acc.result(n, settings.label) for acc in accumulators]


def _accumulate_direction(attr: torch.Tensor, diff: torch.Tensor, sum_ad: torch.Tensor, sum_dd: torch.Tensor) -> None:
    """Add one chunk's Σ a·(x - r) and Σ (x - r)² per SNP (``diff`` = x - r is overwritten, so
    at most one more chunk-sized array than the caller's exists at a time)."""
    sum_dd += diff.square().sum(0, dtype=torch.float64)
    sum_ad += diff.mul_(attr).sum(0, dtype=torch.float64)


def per_allele(sum_ad: torch.Tensor, sum_dd: torch.Tensor) -> np.ndarray:
    """Σ a(x - r) / Σ (x - r)²; NaN where the dosage never differs from the reference."""
    ad, dd = sum_ad.cpu().numpy(), sum_dd.cpu().numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(dd > 0, ad / dd, np.nan)


SCORE_COLUMNS = ["variant_id", "chromosome", "base_pair_location", "effect_allele", "other_allele",
                 "attribution_per_allele", "score", "score_se", "rank"]


def score_table(bim: pd.DataFrame, result: DeepLiftResult) -> pd.DataFrame:
    """Per-SNP score table in .bim order (the layout every downstream step reads).

    ``variant_id`` is the .bim ID (``bim_id`` in the GWAS-SSF file); ``effect_allele`` is the
    attributed allele, the .bim A1 (the sumstats' effect allele), ``other_allele`` A2;
    ``attribution_per_allele`` the signed direction (module docstring); ``score`` mean
    |attribution|, ``score_se`` its standard error; ``rank`` 1 = highest score (ties share the
    best rank).
    """
    direction = result.attribution_per_allele
    table = pd.DataFrame(
        {
            "variant_id": bim["snp"].to_numpy(),
            "chromosome": bim["chrom"].to_numpy(),
            "base_pair_location": bim["pos"].to_numpy(),
            "effect_allele": bim["a1"].to_numpy(),
            "other_allele": bim["a2"].to_numpy(),
            "attribution_per_allele": np.full(len(bim), np.nan) if direction is None else direction,
            "score": result.score,
            "score_se": result.score_se,
        }
    )
    table["rank"] = score_rank(table["score"])
    return table[SCORE_COLUMNS]


def score_rank(score) -> np.ndarray:
    """1 = highest score; tied scores share the best rank."""
    return pd.Series(score).rank(ascending=False, method="min").to_numpy(np.int64)


def seed_average_table(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """The selected model's scores averaged over its retrain seeds, per SNP.

    ``score`` and ``attribution_per_allele`` are the means over seeds, ``score_sd`` the sd
    of the seeds' scores, ``score_se`` the standard error of the mean score
    (sqrt(Σ se²) / S, seeds taken as independent), ``rank`` from the mean score.
    """
    if not tables:
        raise ValueError("no score tables to average")
    first = tables[0]
    for t in tables[1:]:
        if not t["variant_id"].equals(first["variant_id"]):
            raise ValueError("score tables list different variants")
        for column in ("effect_allele", "other_allele"):
            if column in first.columns and not t[column].equals(first[column]):
                raise ValueError(f"score tables disagree on {column}")
    stack = lambda column: np.column_stack([t[column].to_numpy(float) for t in tables])  # noqa: E731
    scores = stack("score")
    out = first[["variant_id", "chromosome", "base_pair_location", "effect_allele", "other_allele"]].copy()
    with warnings.catch_warnings():  # all-NaN rows (monomorphic SNPs) stay NaN, quietly
        warnings.simplefilter("ignore", RuntimeWarning)
        out["attribution_per_allele"] = np.nanmean(stack("attribution_per_allele"), axis=1)
    out["score"] = scores.mean(axis=1)
    out["score_se"] = np.sqrt(np.square(stack("score_se")).sum(axis=1)) / len(tables)
    out["score_sd"] = scores.std(axis=1, ddof=1) if len(tables) > 1 else 0.0
    out["rank"] = score_rank(out["score"])
    out["n_seeds"] = len(tables)
    return out
