"""Snakemake adapter: train / early-stop / validation split of a dataset (liftgwas.split)."""

import logging

from liftgwas import split


def main(smk) -> None:
    if smk.log:
        logging.basicConfig(
            filename=smk.log[0],
            level=logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            force=True,
        )
    params = smk.params
    fractions = {name: float(getattr(params, name)) for name in split.SPLITS}
    table = split.write_split(smk.input.fam, smk.output.split, int(params.seed), fractions)
    logging.getLogger("liftgwas.split").info(
        "split %d samples: %s", len(table), table["split"].value_counts().to_dict()
    )


if __name__ == "__main__":
    try:
        main(snakemake)  # noqa: F821 (injected by Snakemake)
    except Exception:
        logging.getLogger("liftgwas").exception("split failed")
        raise
