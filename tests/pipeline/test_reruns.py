"""What reruns when: the docs' table is the one computed from the stages' closures and declared params,
and it says what the pipeline promises (the slow `dvc status` probes in test_pipeline.py check rows of it
against DVC itself)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from srgan.core.study_code import StudyCodeParams
from srgan.pipeline.reruns import code_reruns, param_reruns, switch_rows, table

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "pipeline.md"
BLOCK = re.compile(r"<!-- reruns:begin[^>]*-->\n(.*?)\n<!-- reruns:end -->", re.S)


def test_the_docs_hold_the_computed_table() -> None:
    found = BLOCK.search(DOC.read_text(encoding="utf-8"))
    assert found, f"{DOC} has no reruns block"
    assert found.group(1) == table(), "the table is stale: paste `python -m srgan.pipeline.reruns` into it"


def test_what_the_table_promises() -> None:
    train_srresnet = {"train_srresnet_mse@<s>", "train_srresnet@<v>-<s>"}
    training = train_srresnet | {"train_srgan_mse@<s>", "train_srgan@<v>-<s>"}
    # Experiment 1 trains no discriminator: its code reruns experiment 2 only.
    for module in ("srgan/nets/discriminator.py", "srgan/losses/adversarial.py", "srgan/training/srgan.py"):
        assert not code_reruns((module,)) & train_srresnet, module
    # The pixel-MSE stages build no extractor.
    assert code_reruns(("srgan/losses/extractors.py",)) == {"train_srresnet@<v>-<s>", "train_srgan@<v>-<s>"}
    # Evaluation records, the param table and the pipeline wiring are no training stage's code.
    for module in ("srgan/core/evaluation_records.py", "srgan/pipeline/stage_params.py", "srgan/pipeline/dvc_yaml.py"):
        assert not code_reruns((module,)) & training, module
    # One weight of one variant: its own training stage and the report, nothing else.
    assert param_reruns("srgan.variants.<v>.mse") == {"train_srgan@<v>-<s>", "report"}
    assert param_reruns("execution.log_every") == set()
    # A seed added to the list adds its own stages: no existing run declares the list, only the report.
    assert param_reruns("seeds") == {"report"}


def test_a_switch_reruns_the_stage_kinds_its_metadata_names_and_has_its_row() -> None:
    """`study_code.<switch>`'s `stages` metadata is the one place that says what it changes: dvc.yaml's
    declarations and so this table follow it, and the table's switch rows are written from it."""
    switches = [f.name for f in dataclasses.fields(StudyCodeParams)]
    for f in dataclasses.fields(StudyCodeParams):
        kinds = {name.partition("@")[0] for name in param_reruns(f"study_code.{f.name}")}
        assert kinds == set(f.metadata["stages"]), f.name
    named = [name.strip("`").removeprefix("study_code.") for what, _ in switch_rows() for name in what.split(", ")]
    assert sorted(named) == sorted(switches)  # each switch in exactly one row
    for what, key in switch_rows():  # a row's switches change the same stages
        names = [name.strip("`").removeprefix("study_code.") for name in what.split(", ")]
        assert all(param_reruns(f"study_code.{name}") == param_reruns(key) for name in names), what
