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
"""

from __future__ import annotations

import logging
import math
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch
from captum.attr import DeepLift, DeepLiftShap, GradientShap, IntegratedGradients, NoiseTunnel, Saliency

from .data import TrainingData
from .model import GenotypeModel

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
        section = dict(section or {})
        unknown = sorted(set(section) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"config key attribution.{unknown[0]}: unknown setting")
        settings = cls(**section)
        settings.validate()
        return settings

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
    return data.decode_split("train", positions).to(device) * scale


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
    """
    settings = settings or AttributionSettings()
    settings.validate()
    device = torch.device(device)
    model = model.to(device).eval()
    scale = model.snps.input_scale.detach()
    net = model.snps.scaled_net().eval()
    ref = reference.to(device) * scale
    references = None
    if settings.method in ("deeplift_shap", "gradient_shap"):
        references = reference_samples(model, data, settings.shap_samples, seed, device)
    explain = chunk_explainer(net, settings, ref, references, chunk_size, seed, device)
    m = data.n_snps
    sum_abs = torch.zeros(m, dtype=torch.float64, device=device)
    sum_sq = torch.zeros(m, dtype=torch.float64, device=device)
    max_delta, n = None, 0
    total = len(data.splits[split].rows)
    for chunk_index, (x, _, _) in enumerate(data.batches(split, chunk_size, device=device)):
        attr, delta = explain(x * scale, chunk_index)
        a = attr.abs_()  # in place: no float64 copy of the chunk
        sum_abs += a.sum(0, dtype=torch.float64)
        sum_sq += a.square_().sum(0, dtype=torch.float64)
        if delta is not None:
            max_delta = delta if max_delta is None else max(max_delta, delta)
        n += x.shape[0]
        log.info("%s: %d / %d samples", settings.label, n, total)
    if n == 0:
        raise ValueError(f"no samples in split {split!r} to attribute")
    mean = (sum_abs / n).cpu().numpy()
    var = (sum_sq / n).cpu().numpy() - mean**2
    se = np.sqrt(np.maximum(var, 0.0) / max(n - 1, 1))
    return DeepLiftResult(score=mean, score_se=se, n_samples=n, max_convergence_delta=max_delta,
                          method=settings.label)


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
