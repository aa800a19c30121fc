"""A real cohort in: its config, phenotype tables, QC and the traits/covariates of the samples
passing QC.

  settings     the cohort's config, validated, defaults filled in
  ukb_table    UK Biobank main-dataset tables (eid, <field>-<instance>.<array>)
  phenotypes   traits and covariates from such a table, by rules in the config
  qc           sample QC steps, PCs, covariates.tsv, the QC summary
  variants     variant QC and BGEN import
  plink2       running plink2 (temporary directory, log)
  ukb_synth    the synthetic UK Biobank-like cohort of config/ukb-example.yaml
"""
