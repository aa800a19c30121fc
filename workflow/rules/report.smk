# The HTML report. After a run: snakemake --report results/report.html
# Every figure and table marked with report(...) in the rules appears there, with the
# caption from workflow/report/<name>.rst; this is the report's front page.


report: "../report/workflow.rst"
