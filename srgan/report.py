"""The study's tables: one per evaluation set, one column per model, one row per metric."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from srgan.artifacts import atomic_path, write_text_atomic

log = logging.getLogger(__name__)

ROW_LABELS = {
    "psnr_y_db": "PSNR-Y (dB)",
    "ssim_y": "SSIM-Y",
    "psnr_rgb_db": "PSNR-RGB (dB, study)",
    "ms_ssim_rgb": "MS-SSIM (study)",
}


def load_metrics(metrics_dir: Path, models: list[str]) -> dict[str, dict]:
    """Read metrics/<model>.json for each model name, in order."""
    return {m: json.loads((metrics_dir / f"{m}.json").read_text(encoding="utf-8")) for m in models}


def study_tables(results: dict[str, dict], sets: list[str]) -> dict[str, pd.DataFrame]:
    """{set: DataFrame} with metric rows and one column per model (the study's layout)."""
    tables = {}
    for set_name in sets:
        table = pd.DataFrame(
            {model: {ROW_LABELS[k]: r[set_name][k] for k in ROW_LABELS} for model, r in results.items()}
        )
        table.index.name = "metric"
        tables[set_name] = table
    return tables


def _markdown(table: pd.DataFrame) -> str:
    fmt = table.copy().astype(object)
    for label in fmt.index:
        digits = 2 if "PSNR" in label else 4
        fmt.loc[label] = [f"{v:.{digits}f}" for v in table.loc[label]]
    return fmt.to_markdown()


def write_report(results: dict[str, dict], sets: list[str], out_dir: Path, notes: list[str]) -> pd.DataFrame:
    """Write <out_dir>/index.md and <set>.csv / <set>.md tables atomically; returns the long table."""
    tables = study_tables(results, sets)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        lines = ["# Results", ""]
        lines += [
            "Paper protocol: PSNR/SSIM on BT.601 Y, 8-bit rounded, border of `scale` px removed.",
            "Study protocol: PSNR on RGB in [0, 1] with no border removed, and MS-SSIM on RGB.",
            "",
        ]
        for set_name, table in tables.items():
            table.to_csv(tmp / f"{set_name}.csv", float_format="%.4f")
            (tmp / f"{set_name}.md").write_text(_markdown(table) + "\n", encoding="utf-8")
            count = next(iter(results.values()))[set_name]["images"]
            lines += [f"## {set_name} ({count} images)", "", _markdown(table), ""]
        lines += ["## Feature-extractor weights used by each model", ""]
        lines += [f"- **{m}**: {r.get('feature_weights', 'n/a')}" for m, r in results.items()]
        lines += ["", *notes]
        write_text_atomic(tmp / "index.md", "\n".join(lines) + "\n")
    rows = [
        {"model": m, "set": s, **{k: r[s][k] for k in ROW_LABELS}} for m, r in results.items() for s in sets
    ]
    return pd.DataFrame(rows)
