"""The study's report: what the pipeline wrote, read back as records (`inputs`),
tables (`tables`), drawings (`figures`), the curves `dvc plots` draws (`curves`), the git-tracked
metrics (`metrics_files`), the study's published numbers (`published`), differences with their
noise over seeds and test images (`stats`, numpy/scipy only) and the comparisons the report makes
with them (`differences`), the offline page for `dvc plots`
(`plots_html`), and the report folder itself (`build`).

May import: srgan.core, srgan.datasets.prepared, srgan.losses.terms, srgan.inference.generator.
"""
