# liftgwas: deep interpretability for GWAS, compared with a classical GWAS.
# All logic lives in workflow/; this file only includes the stages.


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/qc.smk"
include: "workflow/rules/phenotypes.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/attribute.smk"
include: "workflow/rules/knockoffs.smk"
include: "workflow/rules/gwas.smk"
include: "workflow/rules/compare.smk"
include: "workflow/rules/pairs.smk"
include: "workflow/rules/discoveries.smk"
include: "workflow/rules/report.smk"


# The default target (Snakemake honours a default target only in this top-level file).
rule all:
    input:
        lambda wc: final_targets() + extra_targets(),
