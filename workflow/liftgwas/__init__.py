"""liftgwas: interpretable deep learning for GWAS, compared with a classical GWAS.

All real logic lives here and is unit-tested without Snakemake; the scripts in
workflow/scripts/ are thin adapters around these modules.
"""

__version__ = "0.1.0"
