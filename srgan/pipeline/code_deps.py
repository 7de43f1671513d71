"""The code a stage runs: its script plus every `srgan` (and shared `stages`) module it imports, transitively.

Found by reading `import` statements with `ast` (module-level and inside
functions alike), so it is exactly the set of files whose change can change
what the stage computes. dvc.yaml lists it as each stage's code `deps`
(tests/pipeline/test_dvc_graph.py checks that), and a training run hashes it into its
resume fingerprint, so a resume never mixes two versions of the code.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

PACKAGES = ("srgan", "stages")  # the library, and the helpers stage scripts share (stages/_training.py)


def _imported_modules(path: Path) -> set[str]:
    """Dotted names of the srgan / stages modules `path` imports (`from srgan.scoring import metrics` counts
    srgan.scoring.metrics when it is a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names if alias.name.split(".")[0] in PACKAGES)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] in PACKAGES:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _module_file(name: str, root: Path) -> Path | None:
    """The .py file of module `name` under `root` (the folder holding the package), or None."""
    parts = name.split(".")
    for candidate in (root.joinpath(*parts).with_suffix(".py"), root.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            return candidate
    return None  # an attribute imported from a module (`from srgan.core.errors import SrganError`), not a module


def _with_packages(name: str) -> list[str]:
    """`srgan.core.errors` -> ["srgan", "srgan.core", "srgan.core.errors"]: importing a module runs every package
    `__init__` above it first."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def import_closure(script: Path, root: Path) -> list[Path]:
    """`script` and the srgan modules it imports, transitively, relative to `root`, sorted.

    root: the project folder (holding srgan/). Importing `srgan.core.errors` runs
    srgan/__init__.py and srgan/core/__init__.py first, so they are part of the closure.
    """
    seen: set[Path] = set()
    todo = [script.resolve()]
    root = root.resolve()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imported_modules(path):
            for dotted in _with_packages(name):
                module = _module_file(dotted, root)
                if module is not None and module.resolve() not in seen:
                    todo.append(module.resolve())
    return sorted(p.relative_to(root) for p in seen)


def code_digest(script: Path, root: Path) -> str:
    """sha256 over the paths and bytes of `import_closure(script, root)` (16 hex digits)."""
    digest = hashlib.sha256()
    for rel in import_closure(script, root):
        digest.update(rel.as_posix().encode() + b"\0" + (root / rel).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


if __name__ == "__main__":
    raise SystemExit("error: srgan.pipeline.code_deps is a library module, not a command: run "
                     "`python -m srgan.pipeline.dvc_yaml` (it writes every stage's code deps)")
