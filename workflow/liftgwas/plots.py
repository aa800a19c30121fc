"""Publication figures: Miami plot (GWAS above, DeepLIFT below), QQ plot, seed figure.

Every figure is written twice, PNG (300 dpi) and PDF (TrueType text, rasterised point
clouds so 10^6 SNPs stay small and fast), atomically. Colours are from the Okabe–Ito
palette, which stays distinguishable under the common colour-vision deficiencies, and
causal SNPs are marked by shape as well as colour.

The SNPs a figure labels are chosen by :mod:`liftgwas.compare` (``top_k_ids``), so the
labels of a Miami plot are exactly the top hits of the comparison table.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import logging

import matplotlib

matplotlib.use("Agg")  # file output only; never needs a display
# PDF font subsetting logs every glyph table at INFO level, drowning the rule's own log
logging.getLogger("fontTools").setLevel(logging.WARNING)

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from . import compare  # noqa: E402
from .atomic import atomic_path  # noqa: E402
from .gwas import genomic_inflation  # noqa: E402

# Okabe & Ito (2008) colour-blind-safe palette
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermilion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
GWAS_COLOURS = (OKABE_ITO["blue"], OKABE_ITO["sky_blue"])  # alternate by chromosome
DEEPLIFT_COLOURS = (OKABE_ITO["vermilion"], OKABE_ITO["orange"])
SEED_COLOURS = ("#555555", "#AAAAAA")
CAUSAL_STYLE = dict(marker="D", s=22, facecolors="none", edgecolors=OKABE_ITO["black"], linewidths=0.8, zorder=4)
# Miami plot: the marker of each simulated effect class (legend "causal: <class>")
CAUSAL_CLASS_MARKERS = {"additive": "D", "dominant": "^", "recessive": "v", "epistatic": "s"}
GENOME_WIDE_P = 5e-8
DPI = 300
FULL_WIDTH_IN = 7.2  # a two-column journal figure (183 mm)
HALF_WIDTH_IN = 3.5  # a one-column figure (89 mm)

STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.major.size": 3,
    "ytick.major.size": 3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "pdf.fonttype": 42,  # TrueType: text stays editable in the PDF
    "ps.fonttype": 42,
    "figure.dpi": 100,
}


@contextmanager
def _style():
    with plt.rc_context(STYLE):
        yield


def save_figure(fig, out_png: str | Path, out_pdf: str | Path) -> None:
    """Write ``fig`` as PNG (300 dpi) and PDF, atomically and without time stamps (so the
    bytes depend only on the data)."""
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, metadata={"Software": None})
    with atomic_path(out_pdf) as tmp:
        fig.savefig(tmp, format="pdf", dpi=DPI, metadata={"CreationDate": None, "Creator": None, "Producer": None})
    plt.close(fig)


# ----------------------------------------------------------------------------- genome axis


def chromosome_sort_key(chromosome) -> tuple:
    """1 < 2 < … < 22 < X < Y < XY < MT < anything else (alphabetical); 'chr' prefix ignored."""
    name = str(chromosome)
    if name.lower().startswith("chr"):
        name = name[3:]
    if name.isdigit():
        return (0, int(name), "")
    special = {"X": 1, "Y": 2, "XY": 3, "M": 4, "MT": 4}
    return (1, special.get(name.upper(), 99), name)


def genome_layout(chromosome, position, gap_fraction: float = 0.008) -> tuple[np.ndarray, pd.DataFrame]:
    """Cumulative genomic x coordinate of every SNP, and the chromosome ticks.

    Chromosomes follow :func:`chromosome_sort_key`; each occupies [0, its largest
    position] shifted by the lengths before it plus a small gap. Returns ``x`` (one value
    per SNP, same order) and a table chromosome, start, end, centre, index (0, 1, …).
    """
    chromosome = pd.Series(np.asarray(chromosome).astype(str))
    position = np.asarray(position, dtype=float)
    lengths = pd.Series(position).groupby(chromosome.to_numpy()).max()
    order = sorted(lengths.index, key=chromosome_sort_key)
    lengths = lengths.loc[order]
    gap = gap_fraction * float(lengths.sum()) if len(order) > 1 else 0.0
    starts = np.concatenate([[0.0], np.cumsum(lengths.to_numpy() + gap)[:-1]])
    ticks = pd.DataFrame(
        {
            "chromosome": order,
            "start": starts,
            "end": starts + lengths.to_numpy(),
            "index": np.arange(len(order)),
        }
    )
    ticks["centre"] = (ticks["start"] + ticks["end"]) / 2
    offset = pd.Series(starts, index=order)
    x = position + offset.loc[chromosome.to_numpy()].to_numpy()
    return x, ticks


def _position_unit(span: float) -> tuple[float, str]:
    if span >= 1e7:
        return 1e6, "Mb"
    if span >= 1e4:
        return 1e3, "kb"
    return 1.0, "bp"


def _format_genome_axis(ax, ticks: pd.DataFrame, x: np.ndarray) -> float:
    """Chromosome ticks for a multi-chromosome genome, a position axis for a single one.
    Returns the factor x was divided by."""
    if len(ticks) > 1:
        centres = ticks["centre"].to_numpy()
        labels = [str(c).removeprefix("chr") for c in ticks["chromosome"]]
        ax.set_xlim(ticks["start"].iloc[0] - 0.005 * ticks["end"].iloc[-1], ticks["end"].iloc[-1] * 1.005)
        # small chromosomes crowd their labels: keep one only if it is far enough from the last kept
        span = ticks["end"].iloc[-1] - ticks["start"].iloc[0]
        min_gap = 0.024 * span
        keep, last = [], -np.inf
        for centre, label in zip(centres, labels):
            keep.append(centre - last >= min_gap)
            last = centre if keep[-1] else last
        ax.set_xticks(centres)
        ax.set_xticklabels([label if kept else "" for label, kept in zip(labels, keep)], fontsize=6 if len(labels) > 12 else 7)
        ax.tick_params(axis="x", length=0)
        ax.set_xlabel("Chromosome (genomic position)")
        return 1.0
    scale, unit = _position_unit(float(np.nanmax(x)) if len(x) else 1.0)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v / scale:g}"))
    ax.set_xlabel(f"Position on chromosome {str(ticks['chromosome'].iloc[0]).removeprefix('chr')} ({unit})")
    return scale


def _chromosome_parity(chromosome, ticks: pd.DataFrame) -> np.ndarray:
    index = pd.Series(ticks["index"].to_numpy(), index=ticks["chromosome"].to_numpy())
    return index.loc[np.asarray(chromosome).astype(str)].to_numpy() % 2


# ------------------------------------------------------------------------------- labels


def miami_labels(sumstats: pd.DataFrame, scores: pd.DataFrame, top_n: int) -> dict[str, list[str]]:
    """The SNPs a Miami plot annotates: the top-n hits of each method, as in the
    comparison table (``compare.top_k_ids``). SNPs without a value are never labelled."""
    labels = {}
    for method, strength in (
        ("gwas", compare.gwas_strength(sumstats)),
        ("deeplift", compare.deeplift_strength(scores)),
    ):
        labels[method] = compare.top_k_ids(strength.dropna(), top_n)
    return labels


def _overlaps(box, placed) -> bool:
    return any(box.overlaps(other) for other in placed)


def _text_box(annotation, renderer):
    """Display-space box of an annotation's text (without its leader line), after moving
    the text to its current offset."""
    annotation.update_positions(renderer)
    return Text.get_window_extent(annotation, renderer).padded(3.0)


def _annotate_hits(ax, renderer, hits: Sequence[tuple[float, float, str]], direction: int, placed: list) -> list:
    """Label points with their ids, moving each label up (direction +1) or down (-1) and
    sideways until it overlaps no label already placed. Returns the annotation artists."""
    artists = []
    base = 5.0  # points between a point and its label
    sideways = (0.0, 14.0, -14.0, 28.0, -28.0)
    inside = ax.get_window_extent(renderer)
    for x, y, text in sorted(hits, key=lambda h: -abs(h[1])):
        annotation = ax.annotate(
            text,
            xy=(x, y),
            xytext=(0.0, direction * base),
            textcoords="offset points",
            ha="center",
            va="bottom" if direction > 0 else "top",
            fontsize=6,
            annotation_clip=False,
            zorder=6,
            arrowprops=dict(arrowstyle="-", color="0.35", lw=0.4, shrinkA=0.0, shrinkB=1.5),
        )
        # the text alone decides overlaps: an annotation's own extent includes its leader line
        best = None
        for level in range(8):
            for dx in sideways:
                annotation.xyann = (dx, direction * (base + 8.0 * level))
                box = _text_box(annotation, renderer)
                if inside.contains(box.x0, box.y0) and inside.contains(box.x1, box.y1) and not _overlaps(box, placed):
                    best = annotation.xyann
                    break
            if best is not None:
                break
        # crowded beyond 8 levels: keep the label next to its point rather than far away
        annotation.xyann = best if best is not None else (0.0, direction * base)
        placed.append(_text_box(annotation, renderer))
        artists.append(annotation)
    return artists


# --------------------------------------------------------------------------------- Miami


def miami_plot(
    sumstats_df: pd.DataFrame,
    scores_df: pd.DataFrame,
    out_png: str | Path,
    out_pdf: str | Path,
    title: str,
    causal_ids: Iterable[str] | None = None,
    top_n_labels: int = 5,
    genome_wide_p: float = GENOME_WIDE_P,
    bonferroni: bool = True,
    score_unit: str = "model output units",
    gwas_lines: Sequence[dict] = (),
    deeplift_lines: Sequence[dict] = (),
) -> dict[str, list[str]]:
    """GWAS −log10 p above, mean |DeepLIFT| score below (mirrored), along the genome.

    ``sumstats_df``: GWAS-SSF columns (chromosome, base_pair_location, variant_id,
    p_value, optional neg_log10_p_value). ``scores_df``: variant_id, chromosome,
    base_pair_location, score. ``causal_ids`` (simulations) are drawn as open diamonds on
    both panels. The GWAS panel has the genome-wide line (``genome_wide_p``) and, with
    ``bonferroni`` (default), the Bonferroni line 0.05 / M (M = SNPs with a p-value), both
    labelled on the plot and in the legend (`threshold_lines`). ``score_unit`` names the
    unit of the attributed output (the logit for binary traits). Returns the labelled ids
    per method ({"gwas": [...], "deeplift": [...]}).
    ``gwas_lines`` / ``deeplift_lines``: further labelled lines ({"y", "label"}, optional
    "colour", "style") on each panel, e.g. the BH cut-off at q and the null-trait
    max-statistic threshold (`discovery_lines`); non-finite ones are skipped.
    """
    gwas = compare.gwas_strength(sumstats_df).to_numpy()
    deeplift = compare.deeplift_strength(scores_df).to_numpy()
    chromosome_all = np.concatenate(
        [sumstats_df["chromosome"].astype(str).to_numpy(), scores_df["chromosome"].astype(str).to_numpy()]
    )
    position_all = np.concatenate(
        [sumstats_df["base_pair_location"].to_numpy(float), scores_df["base_pair_location"].to_numpy(float)]
    )
    x_all, ticks = genome_layout(chromosome_all, position_all)
    x_gwas, x_deeplift = x_all[: len(sumstats_df)], x_all[len(sumstats_df) :]
    parity_all = _chromosome_parity(chromosome_all, ticks)
    parity_gwas, parity_deeplift = parity_all[: len(sumstats_df)], parity_all[len(sumstats_df) :]

    finite = gwas[np.isfinite(gwas)]
    gwas_cap = (finite.max() if finite.size else 1.0) * 1.05
    # p = 0 (−log10 p = inf) is drawn at the top of the panel rather than dropped
    gwas_plot = np.where(np.isposinf(gwas), gwas_cap, gwas)
    labels = miami_labels(sumstats_df, scores_df, top_n_labels)
    # causal_ids: ids (one marker) or {id: effect class} (one marker per class, with a legend)
    if isinstance(causal_ids, Mapping):
        causal_class = {str(v): str(c) for v, c in causal_ids.items()}
    else:
        causal_class = {str(v): None for v in causal_ids} if causal_ids is not None else {}
    causal = set(causal_class)

    with _style():
        fig, (top, bottom) = plt.subplots(
            2, 1, sharex=True, figsize=(FULL_WIDTH_IN, 4.8), gridspec_kw={"hspace": 0.06}
        )
        fig.subplots_adjust(left=0.115, right=0.985, top=0.88, bottom=0.1)
        for ax, x, y, parity, colours in (
            (top, x_gwas, gwas_plot, parity_gwas, GWAS_COLOURS),
            (bottom, x_deeplift, deeplift, parity_deeplift, DEEPLIFT_COLOURS),
        ):
            has_value = ~np.isnan(y)
            for p in (0, 1):
                keep = has_value & (parity == p)
                ax.scatter(x[keep], y[keep], s=3, c=colours[p], linewidths=0, rasterized=True, zorder=2)

        legend_handles = []
        n_tests = int(np.isfinite(gwas).sum())
        lines_top = []
        lines_bottom = []
        panel_lines = [(top, line, lines_top) for line in [*threshold_lines(n_tests, genome_wide_p, bonferroni),
                                                            *gwas_lines]]
        panel_lines += [(bottom, line, lines_bottom) for line in deeplift_lines]
        for ax, line, ys in panel_lines:
            if not np.isfinite(line["y"]):
                continue
            colour, style = line.get("colour", OKABE_ITO["black"]), line.get("style", "-.")
            ax.axhline(line["y"], color=colour, lw=0.7, ls=style, zorder=3, label=line["label"])
            # the bottom panel is inverted: put the label below its line there too
            ax.annotate(line["label"], xy=(1.0, line["y"]), xycoords=("axes fraction", "data"),
                        xytext=(-2, 1.5 if ax is top else -1.5), textcoords="offset points", ha="right",
                        va="bottom" if ax is top else "top", fontsize=6, color=colour)
            legend_handles.append(Line2D([], [], color=colour, lw=0.7, ls=style, label=line["label"]))
            ys.append(line["y"])

        if causal:
            # one open black shape per effect class (shape, not colour: the point colours
            # already code the method and the chromosome)
            by_class: dict = {}
            for variant, effect_class in causal_class.items():
                by_class.setdefault(effect_class, []).append(variant)
            order = list(CAUSAL_CLASS_MARKERS)
            for effect_class in sorted(by_class, key=lambda c: order.index(c) if c in order else len(order)):
                marker = CAUSAL_CLASS_MARKERS.get(effect_class, "D")
                for ax, ids, x, y in (
                    (top, sumstats_df["variant_id"].astype(str).to_numpy(), x_gwas, gwas_plot),
                    (bottom, scores_df["variant_id"].astype(str).to_numpy(), x_deeplift, deeplift),
                ):
                    mask = np.isin(ids, by_class[effect_class]) & ~np.isnan(y)
                    ax.scatter(x[mask], y[mask], **dict(CAUSAL_STYLE, marker=marker))
                label = "causal SNP (simulated)" if effect_class is None else f"causal: {effect_class}"
                legend_handles.append(
                    Line2D([], [], marker=marker, ls="", markerfacecolor="none", markeredgecolor="black",
                           markersize=4.5, markeredgewidth=0.8, label=label)
                )
        legend_handles.append(Patch(color=GWAS_COLOURS[0], label="GWAS"))
        legend_handles.append(Patch(color=DEEPLIFT_COLOURS[0], label="DeepLIFT"))

        top_max = max([float(np.nanmax(gwas_plot)) if np.isfinite(gwas_plot).any() else 1.0, *lines_top])
        top.set_ylim(0, top_max * 1.35 + 0.5)
        bottom_max = float(np.nanmax(deeplift)) if np.isfinite(deeplift).any() else 1.0
        bottom_max = max([bottom_max if bottom_max > 0 else 1.0, *lines_bottom])
        bottom.set_ylim(bottom_max * 1.35, 0)  # inverted: scores point down
        top.set_ylabel("GWAS −log$_{10}$(p)")
        bottom.set_ylabel(f"Mean |DeepLIFT| score\n({score_unit})")
        top.spines["bottom"].set_visible(False)
        top.tick_params(axis="x", bottom=False)
        bottom.spines["top"].set_visible(True)
        bottom.spines["top"].set_linewidth(0.6)
        scale = _format_genome_axis(bottom, ticks, x_all)
        del scale
        top.text(0.005, 0.96, "GWAS", transform=top.transAxes, ha="left", va="top", fontweight="bold")
        bottom.text(0.005, 0.04, "DeepLIFT", transform=bottom.transAxes, ha="left", va="bottom", fontweight="bold")
        fig.suptitle(title, x=0.09, y=0.985, ha="left", fontsize=9)
        # more than 5 entries (several effect classes) take two rows
        n_columns = len(legend_handles) if len(legend_handles) <= 5 else (len(legend_handles) + 1) // 2
        fig.legend(handles=legend_handles, loc="upper right", bbox_to_anchor=(0.985, 0.95), ncol=n_columns,
                   handlelength=1.6, columnspacing=1.2)
        if n_columns < len(legend_handles):
            fig.subplots_adjust(top=0.83)

        renderer = fig.canvas.get_renderer()
        placed: list = []
        gwas_index = pd.Series(np.arange(len(sumstats_df)), index=sumstats_df["variant_id"].astype(str).to_numpy())
        deeplift_index = pd.Series(np.arange(len(scores_df)), index=scores_df["variant_id"].astype(str).to_numpy())
        _annotate_hits(top, renderer, [(x_gwas[gwas_index[v]], gwas_plot[gwas_index[v]], v) for v in labels["gwas"]], +1, placed)
        _annotate_hits(
            bottom, renderer, [(x_deeplift[deeplift_index[v]], deeplift[deeplift_index[v]], v) for v in labels["deeplift"]],
            -1, placed,
        )
        save_figure(fig, out_png, out_pdf)
    return labels


def discovery_lines(discoveries: pd.DataFrame | None) -> dict[str, list[dict]]:
    """The Miami lines of a discoveries table: the GWAS's BH cut-off at q (top panel) and
    the null-trait max-statistic threshold (bottom panel), each labelled with its error
    rate; a method absent, or without a finite threshold (nothing selectable), draws none."""
    out: dict[str, list[dict]] = {"gwas": [], "deeplift": []}
    if discoveries is None or discoveries.empty:
        return out
    for method, panel, what, colour in (("gwas_bh", "gwas", "BH", OKABE_ITO["bluish_green"]),
                                        ("deeplift_null", "deeplift", "null-trait max", OKABE_ITO["black"])):
        part = discoveries[discoveries["method"] == method]
        if part.empty:
            continue
        y = float(part["threshold"].iloc[0])
        if np.isfinite(y):
            n = int(part["selected"].sum())
            out[panel].append({"y": y, "label": f"{what} {part['error_rate'].iloc[0]} ({n} found)",
                               "colour": colour, "style": "-."})
    return out


def threshold_lines(n_tests: int, genome_wide_p: float = GENOME_WIDE_P, bonferroni: bool = True) -> list[dict]:
    """The significance lines of a GWAS panel: −log10 of ``genome_wide_p`` and, with
    ``bonferroni``, of 0.05 / ``n_tests``; each with its label, colour and line style."""
    lines = [{"y": -math.log10(genome_wide_p), "label": f"p = {_sci(genome_wide_p)}",
              "colour": OKABE_ITO["black"], "style": "--"}]
    if bonferroni:
        lines.append({"y": -math.log10(0.05 / max(n_tests, 1)), "label": f"Bonferroni 0.05/{n_tests:,}",
                      "colour": OKABE_ITO["reddish_purple"], "style": ":"})
    return lines


def _sci(value: float) -> str:
    """5e-08 -> '5×10⁻⁸' in mathtext."""
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa}$\\times$10$^{{{int(exponent)}}}$"


# ------------------------------------------------------------------------------------ QQ


def qq_points(p_values=None, neg_log10_p=None) -> tuple[np.ndarray, np.ndarray]:
    """Expected and observed −log10 p, strongest first (NaN dropped). Give the p-values or,
    more precise for p below the float range, their −log10. Expected uses the mean
    i/(n+1) of the i-th smallest of n uniform p-values."""
    if neg_log10_p is not None:
        observed = np.asarray(neg_log10_p, dtype=float)
    else:
        with np.errstate(divide="ignore"):
            observed = -np.log10(np.asarray(p_values, dtype=float))
    observed = np.sort(observed[~np.isnan(observed)])[::-1]
    n = observed.size
    expected = -np.log10(np.arange(1, n + 1) / (n + 1))
    return expected, observed


def qq_confidence_band(n: int, level: float = 0.95, n_points: int = 400) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pointwise band of the i-th smallest p-value under the null (Beta(i, n - i + 1)),
    evaluated at about ``n_points`` log-spaced ranks: expected, lower, upper in −log10 p."""
    from scipy.stats import beta

    ranks = np.unique(np.round(np.logspace(0, math.log10(n), n_points)).astype(np.int64)) if n > 0 else np.array([], int)
    tail = (1 - level) / 2
    expected = -np.log10(ranks / (n + 1))
    # the upper −log10 bound comes from the lower p quantile and vice versa
    upper = -np.log10(beta.ppf(tail, ranks, n - ranks + 1))
    lower = -np.log10(beta.ppf(1 - tail, ranks, n - ranks + 1))
    return expected, lower, upper


def _thin_curve(x: np.ndarray, y: np.ndarray, resolution: float) -> tuple[np.ndarray, np.ndarray]:
    """Drop points that fall on the same ``resolution`` grid cell (invisible in the figure)
    so a QQ plot of 10^6 p-values draws only a few thousand markers."""
    if x.size == 0 or resolution <= 0:
        return x, y
    cells = np.stack([np.round(x / resolution), np.round(y / resolution)], axis=1)
    _, keep = np.unique(cells, axis=0, return_index=True)
    keep.sort()
    return x[keep], y[keep]


def qq_cap(n_expected_max: float) -> float:
    """Default top of the QQ plot's y-axis: max(10, 2 × the largest expected −log10 p), so one
    very strong SNP cannot squash the null part of the curve (where inflation shows)."""
    return max(10.0, 2.0 * float(n_expected_max))


def qq_plot(
    p_values,
    out_png: str | Path,
    out_pdf: str | Path,
    title: str,
    neg_log10_p=None,
    y_cap: float | None = None,
) -> float:
    """QQ plot of GWAS p-values against the uniform null with a pointwise 95 % band; the
    legend gives λGC (``gwas.genomic_inflation`` of ``p_values``). ``neg_log10_p``, if
    given, places the points (exact even where p underflows to 0). The y-axis stops at
    ``y_cap`` (default `qq_cap`); SNPs beyond it are drawn as triangles at the cap and
    counted in the legend. Returns λGC."""
    lam = genomic_inflation(np.asarray(p_values, dtype=float))
    expected, observed = qq_points(p_values, neg_log10_p)
    cap = float(y_cap) if y_cap is not None else qq_cap(expected.max() if expected.size else 1.0)
    beyond = observed > cap  # includes p = 0 (−log10 p = inf)
    observed = np.where(beyond, cap, observed)
    with _style():
        fig, ax = plt.subplots(figsize=(HALF_WIDTH_IN, HALF_WIDTH_IN))
        fig.subplots_adjust(left=0.16, right=0.96, top=0.9, bottom=0.14)
        top = max(float(expected.max()) if expected.size else 1.0, float(observed.max()) if observed.size else 1.0)
        if expected.size:
            band_x, band_low, band_high = qq_confidence_band(expected.size)
            band_high = np.minimum(band_high, cap)
            ax.fill_between(band_x, band_low, band_high, color="0.85", lw=0, label="95 % band (null)", zorder=1)
            ax.plot([0, expected.max()], [0, min(expected.max(), cap)], color="0.35", lw=0.7, ls="--", zorder=2,
                    label="y = x")
            x, y = _thin_curve(expected[~beyond], observed[~beyond], top / 2000)
            ax.scatter(x, y, s=5, c=OKABE_ITO["blue"], linewidths=0, rasterized=True, zorder=3,
                       label=f"SNPs (n = {expected.size:,})")
            if beyond.any():
                ax.scatter(expected[beyond], observed[beyond], marker="^", s=18, c=OKABE_ITO["vermilion"],
                           edgecolors="black", linewidths=0.4, zorder=4, clip_on=False,
                           label=f"{int(beyond.sum()):,} SNP(s) beyond {cap:g}, drawn at the cap")
        ax.plot([], [], ls="", label=f"λ$_{{GC}}$ = {lam:.3f}")
        ax.set_xlim(0, expected.max() * 1.03 if expected.size else 1)
        ax.set_ylim(0, cap if beyond.any() else top * 1.05)
        ax.set_xlabel("Expected −log$_{10}$(p)")
        ax.set_ylabel("Observed −log$_{10}$(p)" + (f" (axis capped at {cap:g})" if beyond.any() else ""))
        ax.set_title(title, loc="left")
        ax.legend(loc="upper left", handlelength=1.4)
        save_figure(fig, out_png, out_pdf)
    return lam


# ----------------------------------------------------------------------- seeds (Figure 1)


def seed_scores_plot(
    runs: Sequence[tuple[object, pd.DataFrame]],
    causal_ids: Iterable[str],
    k: int,
    out_png: str | Path,
    out_pdf: str | Path,
    title: str,
    score_unit: str = "model output units",
) -> dict:
    """Per-SNP DeepLIFT scores along the genome for a few runs (seeds) of one model: one
    panel per run, stacked, same y scale; causal SNPs as diamonds; the dashed line is the
    score of the k-th SNP, so the diamonds above it are the hits; recall@k in each title.

    ``runs``: (seed, score table with variant_id chromosome base_pair_location score).
    Returns {seed: recall@k}.
    """
    if not runs:
        raise ValueError("seed_scores_plot needs at least one run")
    causal = list(map(str, causal_ids))
    recalls = {}
    first = runs[0][1]
    x_all, ticks = genome_layout(first["chromosome"].astype(str), first["base_pair_location"].to_numpy(float))
    offsets = pd.Series(ticks["start"].to_numpy(), index=ticks["chromosome"].to_numpy())
    with _style():
        height_in = 1.9 * len(runs) + 1.1
        fig, axes = plt.subplots(len(runs), 1, sharex=True, sharey=True, figsize=(FULL_WIDTH_IN, height_in), squeeze=False)
        axes = axes[:, 0]
        # fixed margins in inches keep titles and the axis label clear for any number of panels
        fig.subplots_adjust(left=0.115, right=0.985, top=1 - 0.8 / height_in, bottom=0.45 / height_in, hspace=0.35)
        ymax = 0.0
        for ax, (seed, scores) in zip(axes, runs):
            strength = compare.deeplift_strength(scores)
            recall = compare.topk_recall(strength, causal, k)
            recalls[seed] = recall
            chromosome = scores["chromosome"].astype(str).to_numpy()
            x = scores["base_pair_location"].to_numpy(float) + offsets.loc[chromosome].to_numpy()
            y = strength.to_numpy()
            parity = _chromosome_parity(chromosome, ticks)
            is_causal = strength.index.isin(causal)
            for p in (0, 1):
                keep = (parity == p) & ~is_causal
                ax.scatter(x[keep], y[keep], s=3, c=SEED_COLOURS[p], linewidths=0, rasterized=True, zorder=2)
            ax.scatter(
                x[is_causal], y[is_causal], marker="D", s=20, c=OKABE_ITO["vermilion"], edgecolors="black",
                linewidths=0.5, zorder=4,
            )
            values = np.sort(y[~np.isnan(y)])[::-1]
            if values.size >= k:
                ax.axhline(values[k - 1], color=OKABE_ITO["blue"], lw=0.7, ls="--", zorder=3)
            ymax = max(ymax, float(values[0]) if values.size else 0.0)
            ax.set_title(f"seed {seed}: recall@{k} = {recall:.2f}", loc="left")
            ax.set_ylabel(f"Mean |DeepLIFT| score\n({score_unit})")
        axes[0].set_ylim(0, (ymax if ymax > 0 else 1.0) * 1.1)
        _format_genome_axis(axes[-1], ticks, x_all)
        handles = [
            Line2D([], [], marker="D", ls="", markerfacecolor=OKABE_ITO["vermilion"], markeredgecolor="black",
                   markersize=4.5, markeredgewidth=0.5, label="causal SNP"),
            Line2D([], [], color=OKABE_ITO["blue"], lw=0.7, ls="--", label=f"score of the SNP ranked {k}"),
        ]
        # title on the first line, legend on the second, so a long title never runs into it
        fig.suptitle(title, x=0.09, ha="left", y=1 - 0.08 / height_in, va="top", fontsize=9)
        fig.legend(handles=handles, loc="upper right", bbox_to_anchor=(0.985, 1 - 0.3 / height_in), ncol=2)
        save_figure(fig, out_png, out_pdf)
    return recalls


# ------------------------------------------------------------ seed stability (all seeds)


def seed_stability(runs: Sequence[tuple[object, pd.DataFrame]], k: int) -> dict[str, pd.DataFrame]:
    """Pairwise agreement of the retrain seeds' DeepLIFT rankings: ``overlap`` = shared SNPs
    among the two top-k lists / k (`compare.top_k_ids`), ``spearman`` = Spearman rank
    correlation of the scores over every SNP (`compare.spearman_correlation`). Both are
    seeds × seeds matrices (1 on the diagonal)."""
    if not runs:
        raise ValueError("seed_stability needs at least one run")
    seeds = [str(seed) for seed, _ in runs]
    strengths = [compare.deeplift_strength(scores) for _, scores in runs]
    tops = [set(compare.top_k_ids(s, k)) for s in strengths]
    n = len(runs)
    overlap, spearman = np.eye(n), np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            overlap[i, j] = overlap[j, i] = len(tops[i] & tops[j]) / k
            spearman[i, j] = spearman[j, i] = compare.spearman_correlation(strengths[i], strengths[j])
    index = pd.Index(seeds, name="seed")
    return {"overlap": pd.DataFrame(overlap, index=index, columns=seeds),
            "spearman": pd.DataFrame(spearman, index=index, columns=seeds)}


def seed_stability_table(matrices: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per seed pair: seed_a, seed_b, topk_overlap, spearman."""
    seeds = list(matrices["overlap"].index)
    rows = [{"seed_a": a, "seed_b": b, "topk_overlap": matrices["overlap"].loc[a, b],
             "spearman": matrices["spearman"].loc[a, b]}
            for i, a in enumerate(seeds) for b in seeds[i + 1:]]
    return pd.DataFrame(rows, columns=["seed_a", "seed_b", "topk_overlap", "spearman"])


def seed_stability_plot(
    runs: Sequence[tuple[object, pd.DataFrame]],
    k: int,
    out_png: str | Path,
    out_pdf: str | Path,
    title: str,
) -> dict[str, pd.DataFrame]:
    """Two seeds × seeds heat maps over every retrain seed: top-k overlap (fraction of the k
    SNPs two seeds share) and the Spearman correlation of their scores, values written in the
    cells, the off-diagonal mean in each panel title. Returns `seed_stability`'s matrices."""
    matrices = seed_stability(runs, k)
    n = len(runs)
    with _style():
        side = min(max(1.6 + 0.32 * n, 2.6), HALF_WIDTH_IN)
        fig, axes = plt.subplots(1, 2, figsize=(2 * side + 0.6, side + 0.8))
        fig.subplots_adjust(left=0.1, right=0.97, top=0.78, bottom=0.16, wspace=0.35)
        off = ~np.eye(n, dtype=bool)
        for ax, (name, label) in zip(axes, (("overlap", f"top-{k} overlap"), ("spearman", "Spearman ρ"))):
            values = matrices[name].to_numpy()
            vmin = 0.0 if name == "overlap" else -1.0
            ax.imshow(values, vmin=vmin, vmax=1.0, cmap="cividis", origin="upper")
            for i in range(n):
                for j in range(n):
                    ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=6,
                            color="white" if values[i, j] < vmin + 0.55 * (1 - vmin) else "black")
            ticks = list(matrices[name].columns)
            ax.set_xticks(range(n), ticks)
            ax.set_yticks(range(n), ticks)
            ax.set_xlabel("seed")
            ax.set_ylabel("seed")
            mean = float(values[off].mean()) if n > 1 else float("nan")
            ax.set_title(f"{label}\n(mean over pairs {mean:.2f})", loc="left")
        fig.suptitle(title, x=0.02, ha="left", y=0.98, va="top", fontsize=9)
        save_figure(fig, out_png, out_pdf)
    return matrices


# ----------------------------------------------------------------------------- pair arcs (issue 13)


def _arc(ax, x0: float, x1: float, height: float, **style) -> None:
    """A half ellipse from x0 to x1 (height < 0 draws it below the axis)."""
    t = np.linspace(0, np.pi, 60)
    centre, half = (x0 + x1) / 2, abs(x1 - x0) / 2
    ax.plot(centre - half * np.cos(t), height * np.sin(t), **style)


def pair_arcs_plot(bim: pd.DataFrame, pairs: pd.DataFrame, out_png, out_pdf, *, title: str, alpha: float = 0.05,
                   planted: Sequence[tuple[str, str]] | None = None) -> dict:
    """The network's tested pairs as arcs over the Miami plot's genome axis.

    Above the axis: each tested pair (``pairs``: snp_i, snp_j, network_rank, p_bonferroni,
    p_bh), arc height = −log10 p of its held-out interaction test, vermilion when
    Bonferroni-significant, orange when only BH-significant, grey otherwise. Below (simulations):
    the planted pairs, dashed black, a tested pair that is one of them drawn thick.
    Returns the counts drawn.
    """
    x, ticks = genome_layout(bim["chrom"].astype(str), bim["pos"])
    where = dict(zip(bim["snp"].astype(str), x))
    planted = [tuple(map(str, p)) for p in (planted or [])]
    planted_set = {frozenset(p) for p in planted}
    with _style():
        fig, ax = plt.subplots(figsize=(FULL_WIDTH_IN, 3.2))
        ymax = 1.0
        drawn = {"tested": 0, "bonferroni": 0, "bh_only": 0, "planted": len(planted), "planted_tested": 0}
        for row in pairs.sort_values("network_rank", ascending=False).itertuples(index=False):
            p = float(row.p) if pd.notna(row.p) else 1.0
            height = max(-math.log10(max(p, 1e-300)), 0.05)
            ymax = max(ymax, height)
            if pd.notna(row.p_bonferroni) and row.p_bonferroni < alpha:
                colour, key = OKABE_ITO["vermilion"], "bonferroni"
            elif pd.notna(row.p_bh) and row.p_bh < alpha:
                colour, key = OKABE_ITO["orange"], "bh_only"
            else:
                colour, key = "#999999", None
            hit = frozenset((str(row.snp_i), str(row.snp_j))) in planted_set
            _arc(ax, where[str(row.snp_i)], where[str(row.snp_j)], height, color=colour,
                 lw=1.8 if hit else 0.8, alpha=0.9, zorder=3 if key else 2)
            drawn["tested"] += 1
            drawn["planted_tested"] += int(hit)
            if key:
                drawn[key] += 1
        ax.axhline(0, color="black", lw=0.6)
        line = -math.log10(alpha / max(len(pairs), 1))
        ax.axhline(line, color="#555555", lw=0.6, ls=":")
        ymax = max(ymax, line)
        for a, b in planted:
            if a in where and b in where:
                _arc(ax, where[a], where[b], -0.25 * ymax, color=OKABE_ITO["black"], lw=0.8, ls="--")
        ax.set_ylim(-0.35 * ymax if planted else -0.05 * ymax, 1.1 * ymax)
        _format_genome_axis(ax, ticks, x)
        ax.set_ylabel("−log10 p, held-out interaction test")
        ax.set_title(title)
        handles = [Line2D([], [], color=OKABE_ITO["vermilion"], lw=1.2, label=f"Bonferroni p < {alpha:g}"),
                   Line2D([], [], color=OKABE_ITO["orange"], lw=1.2, label=f"BH q < {alpha:g} only"),
                   Line2D([], [], color="#999999", lw=1.2, label="not significant"),
                   Line2D([], [], color="#555555", lw=0.6, ls=":", label=f"Bonferroni line ({len(pairs)} tests)")]
        if planted:
            handles.append(Line2D([], [], color="black", lw=0.8, ls="--", label="planted pair (below)"))
        ax.legend(handles=handles, loc="upper right", ncol=2)
        fig.tight_layout()
        save_figure(fig, out_png, out_pdf)
    return drawn
