"""Tests for srgan.core.artifacts: atomic writes for files and folders, and safe checkpoint loading."""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from locales import ascii_locale

from srgan.core.artifacts import (
    atomic_path,
    load_checkpoint,
    read_json,
    save_checkpoint,
    torch_load_safely,
    write_json_atomic,
    write_text_atomic,
)
from srgan.core.errors import SrganError


class _Boom(Exception):
    pass


# ---------------------------------------------------------------- atomic_path


def test_atomic_path_writes_file(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "out.txt"
    with atomic_path(path) as tmp:
        assert tmp.parent == path.parent and tmp != path
        assert not tmp.exists()
        tmp.write_text("new", encoding="utf-8")
        assert not path.exists()  # nothing visible at the final path until the body finishes
    assert path.read_text(encoding="utf-8") == "new"
    assert [p.name for p in path.parent.iterdir()] == ["out.txt"]


def test_atomic_path_body_raises_keeps_old_file(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    path.write_text("old", encoding="utf-8")
    with pytest.raises(_Boom):
        with atomic_path(path) as tmp:
            tmp.write_text("half-writ", encoding="utf-8")
            raise _Boom
    assert path.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_path_body_raises_no_file_created(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    with pytest.raises(_Boom):
        with atomic_path(path) as tmp:
            tmp.write_text("x", encoding="utf-8")
            raise _Boom
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_replaces_existing_directory(tmp_path: Path) -> None:
    out = tmp_path / "set"
    (out / "old_sub").mkdir(parents=True)
    (out / "old_sub" / "stale.txt").write_text("stale", encoding="utf-8")
    (out / "keep_name.txt").write_text("old", encoding="utf-8")
    with atomic_path(out) as tmp:
        tmp.mkdir()
        (tmp / "keep_name.txt").write_text("new", encoding="utf-8")
        (tmp / "fresh.txt").write_text("fresh", encoding="utf-8")
    assert sorted(p.name for p in out.iterdir()) == ["fresh.txt", "keep_name.txt"]
    assert (out / "keep_name.txt").read_text(encoding="utf-8") == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["set"]


def test_atomic_path_directory_body_raises_keeps_old_dir(tmp_path: Path) -> None:
    out = tmp_path / "set"
    out.mkdir()
    (out / "a.txt").write_text("old", encoding="utf-8")
    with pytest.raises(_Boom):
        with atomic_path(out) as tmp:
            (tmp / "sub").mkdir(parents=True)
            (tmp / "sub" / "b.txt").write_text("new", encoding="utf-8")
            raise _Boom
    assert [p.name for p in out.iterdir()] == ["a.txt"]
    assert (out / "a.txt").read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["set"]


def test_atomic_path_temp_names_are_unique(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    with atomic_path(path) as first, atomic_path(path) as second:
        assert first != second
        first.write_text("1", encoding="utf-8")
        second.write_text("2", encoding="utf-8")
    assert path.read_text(encoding="utf-8") == "1"  # the outer one finished last
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


# ---------------------------------------------------------------- JSON / text


def test_write_json_atomic_parses(tmp_path: Path) -> None:
    data = {"set5": {"psnr_y_db": 28.42, "ssim_y": 0.81}, "names": ["a", "b"], "n": 3}
    path = tmp_path / "metrics" / "scores.json"
    write_json_atomic(path, data)
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    assert json.loads(text) == data
    assert list(data) == list(json.loads(text))  # key order kept, for readable diffs


def test_write_json_atomic_nan_and_inf(tmp_path: Path) -> None:
    path = tmp_path / "scores.json"
    write_json_atomic(path, {"psnr_db": math.inf, "loss": math.nan})
    back = json.loads(path.read_text(encoding="utf-8"))
    assert back["psnr_db"] == math.inf and math.isnan(back["loss"])


def test_write_json_atomic_unserialisable_keeps_old(tmp_path: Path) -> None:
    path = tmp_path / "scores.json"
    write_json_atomic(path, {"a": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"a": object()})
    assert json.loads(path.read_text(encoding="utf-8")) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["scores.json"]


def test_write_json_atomic_is_indented_by_two_in_insertion_order(tmp_path: Path) -> None:
    path = tmp_path / "scores.json"
    write_json_atomic(path, {"b": 1, "a": [1.5, "é"]})
    assert path.read_text(encoding="utf-8") == '{\n  "b": 1,\n  "a": [\n    1.5,\n    "\\u00e9"\n  ]\n}\n'


def test_text_and_json_are_utf8_whatever_the_locale(tmp_path: Path) -> None:
    """Under a non-UTF-8 locale (ASCII here) a write with the locale's encoding stops on 'Δ' and a read
    garbles or stops on it."""
    with ascii_locale():
        write_text_atomic(tmp_path / "note.md", "ΔE2000 ↓\n")
        (tmp_path / "scores.json").write_bytes('{"name": "café"}'.encode())
        assert read_json(tmp_path / "scores.json", "scores") == {"name": "café"}
    assert (tmp_path / "note.md").read_bytes() == "ΔE2000 ↓\n".encode()


def test_read_json_errors_name_what_and_the_file(tmp_path: Path) -> None:
    path = tmp_path / "scores.json"
    with pytest.raises(SrganError) as error:
        read_json(path, "evaluation record")
    assert str(error.value) == (f"evaluation record {path} not found; run the stage that writes it (dvc repro) or "
                                "check the path")
    path.write_text("{nope", encoding="utf-8")
    with pytest.raises(SrganError) as error:
        read_json(path, "evaluation record")
    assert str(error.value) == (f"evaluation record {path} is not valid JSON (Expecting property name enclosed in "
                                "double quotes: line 1 column 2 (char 1)); run the stage that writes it again")
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(SrganError) as error:
        read_json(path, "evaluation record")
    assert str(error.value) == f"evaluation record {path} is not a JSON object; run the stage that writes it again"


def test_write_text_atomic_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    write_text_atomic(path, "one")
    write_text_atomic(path, "two")
    assert path.read_text(encoding="utf-8") == "two"


# ---------------------------------------------------------------- checkpoints


def _checkpoint() -> dict:
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, kernel_size=3, padding=1), torch.nn.PReLU())
    return {
        "model": model.state_dict(),
        "params": {"model": {"num_blocks": 2, "channels": 4}, "losses": ["mse"], "rate": 1.0e-4},
        "epoch": 7,
        "optimizer": torch.optim.Adam(model.parameters(), lr=1.0e-4).state_dict(),
    }


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    ckpt = _checkpoint()
    path = tmp_path / "models" / "g.pt"
    save_checkpoint(path, ckpt)
    assert [p.name for p in path.parent.iterdir()] == ["g.pt"]
    back = load_checkpoint(path)
    assert back["epoch"] == 7 and back["params"] == ckpt["params"]
    assert back["model"].keys() == ckpt["model"].keys()
    for key, tensor in ckpt["model"].items():
        torch.testing.assert_close(back["model"][key], tensor, rtol=0, atol=0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, kernel_size=3, padding=1), torch.nn.PReLU())
    model.load_state_dict(back["model"])  # loads into a fresh module


def test_two_saves_of_one_checkpoint_are_byte_identical(tmp_path: Path) -> None:
    """Each save goes through its own random temporary name; none of it may reach the file (DVC hashes
    the bytes: two hosts training the same run must write the same checkpoint)."""
    ckpt = _checkpoint()
    first, second = tmp_path / "a" / "best.pt", tmp_path / "b" / "last.pt"
    save_checkpoint(first, ckpt)
    save_checkpoint(second, ckpt)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert {name.split("/")[0] for name in archive.namelist()} == {"archive"}


def test_save_checkpoint_failure_keeps_old(tmp_path: Path) -> None:
    path = tmp_path / "g.pt"
    save_checkpoint(path, _checkpoint())
    before = path.read_bytes()
    with pytest.raises(Exception):
        save_checkpoint(path, {"model": {}, "bad": lambda: None})  # a lambda cannot be pickled
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["g.pt"]


def test_load_checkpoint_missing(tmp_path: Path) -> None:
    path = tmp_path / "none.pt"
    with pytest.raises(SrganError, match="not found") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("keep", [0.5, 0.1, 0.0])
def test_load_checkpoint_truncated(tmp_path: Path, keep: float) -> None:
    full = tmp_path / "full.pt"
    save_checkpoint(full, _checkpoint())
    data = full.read_bytes()
    path = tmp_path / "cut.pt"
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(SrganError) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def _garbage_files() -> list[bytes]:
    """Random bytes, random bytes behind a pickle header, and every prefix of a legacy-format checkpoint."""
    rng = np.random.default_rng(0)
    samples = [rng.integers(0, 256, int(n), dtype=np.uint8).tobytes() for n in rng.integers(1, 512, 60)]
    samples += [b"\x80\x02" + rng.integers(0, 256, int(n), dtype=np.uint8).tobytes() for n in rng.integers(1, 64, 150)]
    legacy = io.BytesIO()
    torch.save({"model": {"w": torch.ones(3)}}, legacy, _use_new_zipfile_serialization=False)
    samples += [legacy.getvalue()[:k] for k in range(0, len(legacy.getvalue()), 5)]
    return samples


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_load_checkpoint_garbage(tmp_path: Path) -> None:
    # The safe unpickler fails in many ways on junk (IndexError, KeyError, struct.error, ...):
    # every one of them must come out as one SrganError naming the file.
    path = tmp_path / "junk.pt"
    for data in _garbage_files():
        path.write_bytes(data)
        with pytest.raises(SrganError) as info:
            load_checkpoint(path)
        assert str(path) in str(info.value)


@pytest.mark.parametrize("payload", [[1, 2, 3], {"generator": {}}, torch.zeros(2)], ids=["list", "no-model", "tensor"])
def test_load_checkpoint_not_an_srgan_checkpoint(tmp_path: Path, payload: object) -> None:
    path = tmp_path / "other.pt"
    torch.save(payload, path)
    with pytest.raises(SrganError, match="'model'") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


class _Evil:
    """Unpickling this runs a shell command: the safe loader must refuse it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("writer", ["torch", "pickle"])
def test_load_checkpoint_refuses_malicious_pickle(tmp_path: Path, writer: str) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    payload = {"model": _Evil(marker), "epoch": 1}
    if writer == "torch":
        torch.save(payload, path)
    else:
        with path.open("wb") as fh:
            pickle.dump(payload, fh, protocol=2)  # the protocol torch.load expects: no warning
    with pytest.raises(SrganError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert str(path) in message
    assert not marker.exists(), "the pickle ran code"
    assert "refused" in message and "system" in message  # says what was blocked
    assert "will likely succeed" not in message  # and does not advise the unsafe weights_only=False load


def test_malicious_pickle_would_run_unsafely(tmp_path: Path) -> None:
    # Control for the test above: the payload really does run when loaded unsafely.
    marker = tmp_path / "pwned"
    data = pickle.dumps({"model": _Evil(marker)})
    pickle.loads(data)  # noqa: S301 - deliberate, in a temp dir
    assert marker.exists()


def test_load_checkpoint_map_location(tmp_path: Path) -> None:
    path = tmp_path / "g.pt"
    save_checkpoint(path, {"model": {"w": torch.ones(3)}})
    back = load_checkpoint(path, map_location=torch.device("cpu"))
    assert back["model"]["w"].device.type == "cpu"
    assert load_checkpoint(path, map_location="meta")["model"]["w"].device.type == "meta"
    assert load_checkpoint(path)["model"]["w"].device.type == "cpu"  # the default
    assert torch_load_safely(path, "meta")["model"]["w"].device.type == "meta"
    assert torch_load_safely(path)["model"]["w"].device.type == "cpu"


def test_torch_load_safely_asks_torch_for_weights_only_whatever_its_default(tmp_path: Path, monkeypatch) -> None:
    """torch >= 2.6 loads weights only by default, 2.4 and 2.5 (which pyproject admits) do not: the loader says so
    itself."""
    path = tmp_path / "g.pt"
    save_checkpoint(path, {"model": {"w": torch.ones(3)}})
    calls = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *args, **kwargs: calls.append(kwargs) or real_load(*args, **kwargs))
    torch_load_safely(path, "meta")
    assert calls == [{"map_location": "meta", "weights_only": True}]


@pytest.mark.parametrize(("message", "shown"), [("", "UnpicklingError"), ("\n  \n", "UnpicklingError"),
                                                ("Weights only load failed.\nretry with weights_only=False",
                                                 "Weights only load failed.")])
def test_a_refusal_without_a_reason_names_the_error(tmp_path: Path, monkeypatch, message: str, shown: str) -> None:
    def refuse(*args, **kwargs):
        raise pickle.UnpicklingError(message)

    monkeypatch.setattr(torch, "load", refuse)
    with pytest.raises(SrganError) as error:
        torch_load_safely(tmp_path / "g.pt")
    assert str(error.value) == f"checkpoint {tmp_path / 'g.pt'} was refused by the safe loader (weights_only=True): {shown}"


def test_an_unreadable_checkpoint_names_the_error_type(tmp_path: Path) -> None:
    path = tmp_path / "g.pt"
    path.write_bytes(b"")
    with pytest.raises(SrganError) as error:
        torch_load_safely(path)
    assert str(error.value).startswith(f"checkpoint {path} is not a readable checkpoint (EOFError: ")


def test_bump_mtime_moves_the_time_forward_and_keeps_the_bytes(tmp_path: Path) -> None:
    from srgan.core.artifacts import bump_mtime

    path = tmp_path / "params.yaml"
    path.write_text("a: 1\n", encoding="utf-8")
    future = time.time() + 3600
    os.utime(path, (future, future))
    bump_mtime(path)  # a time in the future still moves forward, by a second at least
    assert path.stat().st_mtime == pytest.approx(future + 1.0, abs=0.01)  # by one second, not more
    assert path.read_text(encoding="utf-8") == "a: 1\n"
    os.utime(path, (1_000_000, 1_000_000))
    bump_mtime(path)
    assert path.stat().st_mtime >= time.time() - 5
