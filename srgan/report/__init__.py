"""The study's report: what the pipeline wrote, read back as records (`inputs`),
tables (`tables`), drawings (`figures`), the study's published numbers (`published`),
differences with their noise over seeds and test images (`stats`, numpy/scipy only), and
the report folder itself (`build`).

May import `srgan.core`, `srgan.datasets.prepared`, `srgan.losses.terms` and
`srgan.inference.generator`.
"""
