"""Variant QC (chromosomes, call rate, MAF) and BGEN import, with plink2."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd

from ..atomic import write_tsv
from ..errors import InputError
from .plink2 import run_plink2, workdir, write_id_file
from .qc import AUTOSOMES, check_genotypes, kept_samples, read_step

log = logging.getLogger(__name__)


def _fmt(x: float) -> str:
    return f"{x:.10g}"


def _count_lines(path: Path) -> int:
    with open(path) as handle:
        return sum(1 for _ in handle)


def variant_qc(
    prefix: str | Path,
    samples_step: str | Path,
    out_prefix: str | Path,
    variants_out: str | Path,
    removed_out: str | Path,
    *,
    settings: dict,
    threads: int = 1,
    memory_mb: int | None = None,
) -> pd.DataFrame:
    """QC'd genotypes (samples kept by ``samples_step``; chromosomes, call rate, MAF filters).

    Writes out_prefix.{bed,bim,fam}, ``variants_out`` (step, variants_removed, variants_left,
    method) and ``removed_out`` (snp chrom pos step: variants dropped by call rate or MAF).
    """
    bed = check_genotypes(prefix)
    samples = kept_samples(read_step(samples_step))
    qc = settings["qc"]
    chromosomes = [str(c) for c in settings.get("chromosomes") or AUTOSOMES]
    out_prefix = Path(out_prefix)
    on_chromosomes = _chromosome_codes(bed.bim["chrom"]).isin(_chromosome_codes(pd.Series(chromosomes)))
    if not on_chromosomes.any():
        raise InputError(Path(f"{prefix}.bim"), f"no variants on chromosome(s) {','.join(chromosomes)} (config key chromosomes)")
    rows = []
    removed_variants = []
    with workdir(out_prefix) as tmp:
        keep = write_id_file(samples, tmp / "keep.id")
        common = ["--bfile", prefix, "--keep", keep]
        run_plink2([*common, "--chr", ",".join(chromosomes), "--write-snplist"], tmp / "chromosomes",
                   what="chromosome filter", threads=threads, memory_mb=memory_mb)  # fmt: skip
        current = tmp / "chromosomes.snplist"
        left = _count_lines(current)
        rows.append(("chromosomes", bed.n_snps - left, left, f"chromosomes {','.join(chromosomes)}"))
        if qc["variant_call_rate"]["enabled"]:
            max_missing = _fmt(1 - qc["variant_call_rate"]["min"])
            run_plink2([*common, "--extract", current, "--geno", max_missing, "--write-snplist"], tmp / "callrate",
                       what="variant call rate", threads=threads, memory_mb=memory_mb)  # fmt: skip
            after = tmp / "callrate.snplist"
            removed_variants += [(v, "variant_call_rate") for v in _difference(current, after)]
            n = _count_lines(after)
            rows.append(("variant_call_rate", left - n, n, f"plink2 --geno {max_missing} (call rate < {qc['variant_call_rate']['min']:g})"))
            current, left = after, n
        else:
            rows.append(("variant_call_rate", 0, left, "disabled"))
        maf_args = []
        if qc["maf"]["enabled"]:
            maf_args = ["--maf", _fmt(qc["maf"]["min"]), "--nonfounders"]
        run_plink2([*common, "--extract", current, *maf_args, "--make-bed"], tmp / "plink",
                   what="MAF filter and output", threads=threads, memory_mb=memory_mb)  # fmt: skip
        qc_bed = check_genotypes(tmp / "plink")
        final = set(qc_bed.bim["snp"])
        before = pd.read_csv(current, header=None, dtype=str)[0]
        removed_variants += [(v, "maf") for v in before[~before.isin(final)]]
        if qc["maf"]["enabled"]:
            rows.append(("maf", left - qc_bed.n_snps, qc_bed.n_snps, f"plink2 --maf {_fmt(qc['maf']['min'])}"))
        else:
            rows.append(("maf", 0, left, "disabled"))
        if qc_bed.n_snps == 0:
            raise InputError(Path(f"{prefix}.bim"), "no variants left after variant QC")
        variants = pd.DataFrame(rows, columns=["step", "variants_removed", "variants_left", "method"])
        snp_info = bed.bim.set_index("snp")
        removed = pd.DataFrame(removed_variants, columns=["snp", "step"])
        removed.insert(1, "chrom", snp_info["chrom"].reindex(removed["snp"]).to_numpy())
        removed.insert(2, "pos", snp_info["pos"].reindex(removed["snp"]).to_numpy())
        write_tsv(variants_out, variants)
        write_tsv(removed_out, removed)
        out_prefix.parent.mkdir(parents=True, exist_ok=True)
        for ext in ("bed", "bim", "fam"):
            os.replace(tmp / f"plink.{ext}", f"{out_prefix}.{ext}")
    log.info("variant QC: %d samples x %d variants", qc_bed.n_samples, qc_bed.n_snps)
    return variants


def _chromosome_codes(codes: pd.Series) -> pd.Series:
    """Chromosome names as plink2 reads them: '10', 'chr10' -> '10'; 23/24/25/26 -> X/Y/XY/MT."""
    names = codes.astype(str).str.replace(r"^chr", "", regex=True, case=False).str.upper()
    return names.replace({"23": "X", "24": "Y", "25": "XY", "26": "MT", "M": "MT"})


def _difference(before: Path, after: Path) -> list[str]:
    kept = set(pd.read_csv(after, header=None, dtype=str)[0]) if after.stat().st_size else set()
    ids = pd.read_csv(before, header=None, dtype=str)[0]
    return ids[~ids.isin(kept)].tolist()


def import_bgen(
    bgen: str | Path,
    sample: str | Path,
    out_prefix: str | Path,
    *,
    settings: dict,
    ref_allele: str = "ref-first",
    extract: str | Path | None = None,
    threads: int = 1,
    memory_mb: int | None = None,
) -> None:
    """BGEN (genotype probabilities) -> PLINK 1 hard calls; a genotype whose largest
    probability is below qc.genotype_probability.min becomes missing. Only ``chromosomes``
    (and the variant IDs listed in ``extract``, if given) are imported."""
    for path in (bgen, sample, *([extract] if extract else [])):
        if not Path(path).exists():
            raise InputError(path, "genotype file not found")
    step = settings["qc"]["genotype_probability"]
    certainty = ["--import-dosage-certainty", _fmt(step["min"])] if step["enabled"] else []
    chromosomes = [str(c) for c in settings.get("chromosomes") or AUTOSOMES]
    out_prefix = Path(out_prefix)
    with workdir(out_prefix) as tmp:
        subset = ["--extract", extract] if extract else []
        run_plink2(["--bgen", bgen, ref_allele, "--sample", sample, *certainty, "--chr", ",".join(chromosomes), *subset,
                    "--make-bed"],
                   tmp / "imported", what="BGEN import", threads=threads, memory_mb=memory_mb)  # fmt: skip
        check_genotypes(tmp / "imported")
        out_prefix.parent.mkdir(parents=True, exist_ok=True)
        for ext in ("bed", "bim", "fam"):
            os.replace(tmp / f"imported.{ext}", f"{out_prefix}.{ext}")


