"""The metrics evaluation scores, in one table: for each key (its column in every per-image table,
evaluation record and metrics file) its label, unit, decimals, which way is better, the protocol of
the images it compares, what it measures, and the difference a planning figure is about.

Everything that names, orders, shows or compares metrics reads `METRICS` when it runs, never a copy:
the scoring (`srgan.scoring.evaluate`: the columns and their order), the evaluation records
(`srgan.core.evaluation_records`), the report's tables, statistics and metrics files
(`srgan.report.tables`, `srgan.report.stats`, `srgan.report.metrics_files`, `srgan.report.differences`),
`srgan experiments` (`srgan.report.experiments`) and the command line's help (`srgan.cli`). A new metric
is its scoring function, called in `srgan.scoring.evaluate.score_image`, and one entry here;
tests/core/test_metric_table.py follows a made-up entry through every reader.

Pure Python (no torch, no pandas): the command line's help and the statistics read it cheaply. The
evaluation stages import it (through the records), so editing an entry reruns them as well as the
report: the file is the unit DVC sees.
"""

from __future__ import annotations

from dataclasses import dataclass

from srgan.core.errors import SrganError

HIGHER, LOWER, CLOSER_TO_1 = "higher", "lower", "closer_to_1"
PAPER, STUDY = "paper", "study"


@dataclass(frozen=True)
class Protocol:
    """The images a metric compares."""

    name: str  # in table rows and help: "study protocol"
    what: str


PROTOCOLS = {
    PAPER: Protocol("paper protocol", "HR mod-cropped, a border of `scale` px removed, PSNR and SSIM on the 8-bit "
                                      "images' BT.601 Y (the SR literature's)"),
    STUDY: Protocol("study protocol", "RGB in [0, 1], no border removed (the content-loss study's)"),
}


@dataclass(frozen=True)
class Metric:
    """How one per-image metric reads and compares."""

    label: str  # its short name in tables, sentences and help ("PSNR-Y")
    unit: str  # written after its values and differences ("dB"; "" for a unitless score)
    decimals: int  # in the report's tables and sentences
    better: str  # HIGHER | LOWER | CLOSER_TO_1 (a ratio: |x − 1| is compared, lower is better)
    protocol: str  # a PROTOCOLS key
    planning_diff: float  # the difference `srgan.report.stats.seeds_needed` is computed for, in `unit`
    what: str  # what it measures, for the help and the report's legend
    headline: bool = False  # in every model's DVC metrics file, metrics/<experiment>/<variant>.json
    formula: str = ""  # shown after the label in the report's table rows ("C*(SR)/C*(HR)")

    @property
    def higher_is_better(self) -> bool:
        """For the compared quantity: |x − 1| when `better` is CLOSER_TO_1, so lower is better."""
        return self.better == HIGHER

    @property
    def label_unit(self) -> str:
        """'PSNR-Y (dB)', 'SSIM-Y': a column or an axis."""
        return f"{self.label} ({self.unit})" if self.unit else self.label


# In table order: distortion (paper protocol, then the study's), perceptual quality, colour fidelity.
METRICS = {
    "psnr_y_db": Metric("PSNR-Y", "dB", 2, HIGHER, PAPER, 0.10, "PSNR of the Y channel (of a gray image, its gray "
                        "value)", headline=True),
    "ssim_y": Metric("SSIM-Y", "", 4, HIGHER, PAPER, 0.002, "SSIM of the Y channel (Gaussian window 11, σ 1.5)"),
    "psnr_rgb_db": Metric("PSNR-RGB", "dB", 2, HIGHER, STUDY, 0.10, "PSNR on RGB"),
    "ms_ssim_rgb": Metric("MS-SSIM", "", 4, HIGHER, STUDY, 0.002, "MS-SSIM on RGB (the study's \"SSIM\")"),
    "niqe_y": Metric("NIQE-Y", "", 3, LOWER, PAPER, 0.10, "NIQE of the 8-bit Y channel, no reference (PIRM 2018)",
                     headline=True),
    "lpips_alex": Metric("LPIPS-Alex", "", 4, LOWER, PAPER, 0.005, "LPIPS v0.1 on AlexNet, when its ImageNet "
                         "weights are in torch's cache"),
    "chroma_ratio": Metric("chroma ratio", "", 3, CLOSER_TO_1, PAPER, 0.01, "mean CIELAB C* of SR over HR's (below "
                           "1 = desaturated; none for a gray image)", formula="C*(SR)/C*(HR)"),
    "delta_e00": Metric("ΔE2000", "", 2, LOWER, PAPER, 0.10, "mean CIEDE2000 colour difference to HR"),
}


def metric_info(key: str) -> Metric:
    """METRICS[key], or an SrganError naming the known metrics."""
    if key not in METRICS:
        raise SrganError(f"unknown metric '{key}'; choose one of {', '.join(METRICS)}")
    return METRICS[key]


def keys_of(protocol: str) -> list[str]:
    """The metrics of one protocol, in table order."""
    return [key for key, metric in METRICS.items() if metric.protocol == protocol]


def headline_keys() -> list[str]:
    """The metrics of every model's DVC headline (`Metric.headline`), in table order: psnr_y_db, niqe_y."""
    return [key for key, metric in METRICS.items() if metric.headline]
