"""The config section `discoveries:` beyond what its JSON Schema can say (errors name the key).

Called from workflow_config.Study.from_config, after the schema (which fills the defaults),
so a bad value stops the run before any job starts.
"""

from __future__ import annotations

from .discoveries import check_rate
from .null_traits import min_null_traits

DEFAULTS = {
    "q": 0.1,
    "alpha": 0.05,
    "null_traits": {"count": 0, "fwer": True},
    "knockoffs": {"run": False, "draws": 1, "method": "auto"},
}


def settings(config: dict) -> dict:
    """The section with its defaults (also when the schema's defaults were not applied)."""
    section = dict(config.get("discoveries") or {})
    out = {**DEFAULTS, **section}
    out["null_traits"] = {**DEFAULTS["null_traits"], **(section.get("null_traits") or {})}
    out["knockoffs"] = {**DEFAULTS["knockoffs"], **(section.get("knockoffs") or {})}
    return out


def check_discoveries(config: dict, sample_counts: dict[str, int] | None = None) -> dict:
    """Validate and return the section. ``sample_counts``: dataset -> samples where known
    before any job runs (simulations), for the knockoff method's sample-size rule."""
    s = settings(config)
    check_rate("q", s["q"])
    check_rate("alpha", s["alpha"])
    k = s["null_traits"]["count"]
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"config key discoveries.null_traits.count: must be an integer >= 0, got {k!r}")
    if k and s["null_traits"]["fwer"]:
        need = min_null_traits(s["alpha"])
        if k < need:
            raise ValueError(
                f"config key discoveries.null_traits.count: {k} null traits are too few for the max-statistic "
                f"threshold at alpha = {s['alpha']:g} (the ceil((1 - alpha)(K + 1))-th of K null maxima needs "
                f"K >= {need}); raise it, or set discoveries.null_traits.fwer: false for empirical p-values only"
            )
    if s["knockoffs"]["run"] and sample_counts:
        check = _knockoff_sample_rule()
        if check is not None:
            for name, n in sample_counts.items():
                check(n, s["knockoffs"], name)
    return s


def _knockoff_sample_rule():
    """11-knock's rule for the fewest samples its knockoff method needs, if present
    (liftgwas.discover.knockoffs.check_samples(n_samples, knockoff_settings, dataset))."""
    try:
        from . import knockoffs
    except ImportError:
        return None
    return getattr(knockoffs, "check_samples", None)
