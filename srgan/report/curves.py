"""The curves `dvc plots` draws: one chart per quantity, with every run of an experiment on it.

The training stages log one TSV per scalar and run (plots/<experiment>/<variant>/<tag>.tsv,
`srgan.core.records`); the report stage gathers each charted quantity of an experiment into one
long table, report/curves/<experiment>_<tag>.tsv with the columns `step`, `run` and the value
(named after the tag's last part), kept in git, so `dvc plots show` and `dvc plots diff <commit>`
work in any clone. dvc.yaml's top-level `plots:` are generated from `CHARTS`
(`srgan.pipeline.dvc_yaml`); the template `.dvc/plots/runs.json` colours lines by run and dashes
them by revision (both legends drawn as line samples, so a dash pattern names its revision), on a
log step axis, so a 10-step run and a 300-step one are both legible on one chart. An even number of
charts fills the two columns of the page (`srgan.report.plots_html`). Constant scalars (skipped
steps, a constant learning rate) are not charted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from srgan.core.metric_table import METRICS

CURVES_DIR = "curves"  # inside the report folder
TEMPLATE = "runs"  # .dvc/plots/runs.json


@dataclass(frozen=True)
class Chart:
    experiment: str  # "srresnet" | "srgan"
    tag: str  # the logged scalar, e.g. "valid/psnr_y_db"
    title: str
    y_label: str

    @property
    def file(self) -> str:
        """Relative to the report folder: 'curves/srgan_valid_psnr_y_db.tsv'."""
        return f"{CURVES_DIR}/{self.experiment}_{self.tag.replace('/', '_')}.tsv"

    @property
    def field(self) -> str:
        """The value column: the tag's last part ('psnr_y_db', 'content')."""
        return self.tag.rsplit("/", 1)[-1]


_PSNR = METRICS["psnr_y_db"]  # the same metric, scored on the validation images during training
CHARTS = (
    Chart("srresnet", "valid/psnr_y_db", f"Experiment 1 (SRResNet): validation {_PSNR.label}", _PSNR.label_unit),
    Chart("srresnet", "loss/content", "Experiment 1 (SRResNet): training content loss", "content loss"),
    Chart("srgan", "valid/psnr_y_db", f"Experiment 2 (SRGAN): validation {_PSNR.label}", _PSNR.label_unit),
    Chart("srgan", "loss/generator", "Experiment 2 (SRGAN): generator loss", "content + adversarial"),
    Chart("srgan", "loss/adversarial", "Experiment 2 (SRGAN): adversarial term of G's loss", "-log D(SR)"),
    Chart("srgan", "loss/discriminator", "Experiment 2 (SRGAN): discriminator loss",
          "-log D(HR) - log(1 - D(SR))"),
    Chart("srgan", "d/real_prob", "Experiment 2 (SRGAN): D(HR), mean probability 'real'", "D(HR)"),
    Chart("srgan", "d/fake_prob", "Experiment 2 (SRGAN): D(SR), mean probability 'real'", "D(SR)"),
)


def curve_table(chart: Chart, runs: dict[str, dict[str, tuple[Sequence[int], Sequence[float]]]]) -> pd.DataFrame:
    """The long table of one chart: a row per (run, logged step), runs in the order given.

    runs: {variant: {tag: (steps, values)}} of the chart's experiment; runs without the tag are left out.
    """
    frames = [pd.DataFrame({"step": np.asarray(steps, dtype=np.int64), "run": variant,
                            chart.field: np.asarray(values, dtype=np.float64)})
              for variant, tags in runs.items() if chart.tag in tags for steps, values in [tags[chart.tag]]]
    if not frames:
        return pd.DataFrame({"step": pd.Series(dtype=np.int64), "run": pd.Series(dtype=str),
                             chart.field: pd.Series(dtype=np.float64)})
    return pd.concat(frames, ignore_index=True)


def write_curve_table(path, table: pd.DataFrame) -> None:
    """TSV with '\\n' line ends and 6 significant digits (as the training logs write them)."""
    table.to_csv(path, sep="\t", index=False, float_format="%.6g", lineterminator="\n")
