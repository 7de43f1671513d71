"""A used clone to another commit (`srgan worker sync COMMIT`), losing nothing that was not pushed.

After a round a worker's clone holds what DVC wrote there: its own `dvc.lock`, `.gitignore` entries
for the outputs it checked out (`/seed0` in `models/srgan/mse/.gitignore`), the outputs themselves (in
the cache), and `state/` (resume points). Git refuses to check out the next commit over the first two
("Your local changes … would be overwritten"). Both are what DVC writes again from the next commit's
dvc.lock; the results they describe are what must not be lost. So `sync`:

1. looks at `git status`: besides `dvc.lock`, the params check's `data/params.checked` (constant bytes: a
   clone that ran the check before the file was committed holds an untracked copy) and lines of DVC's
   form (`/name`) in the `.gitignore` of a folder where dvc.yaml puts outputs, any change to a tracked
   file, or an untracked file the commit tracks, stops it (one line naming the file: a result that
   lives in git, such as `report/` or `metrics/` on a host that ran the report, is committed by its
   host, not dropped here);
2. fetches, and resolves COMMIT (unknown: stop);
3. pushes what this clone made: `dvc push --run-cache` (the run-cache entries and the outputs its
   dvc.lock references). If that fails it stops, and nothing is reset. With no DVC remote configured
   (the GPUs of one host sharing one cache) the cache is where the results already are;
4. discards those DVC files (dvc.lock, data/params.checked and the `.gitignore` files back to HEAD's,
   untracked ones deleted) and checks out COMMIT (detached; workers commit nothing). Outputs in the workspace and
   `state/` stay: DVC replaces an output the new dvc.lock records otherwise, and a requeued stage
   at the same commit still resumes. An output here that COMMIT's `.gitignore` files do not name (a
   run this commit does not record yet) gets DVC's entry back, so that `git add -A` never takes it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from srgan.core.errors import SrganError
from srgan.pipeline.dvc_yaml import PARAMS_CHECKED

LOCK_FILE = "dvc.lock"
DVC_WRITTEN = (LOCK_FILE, PARAMS_CHECKED)  # files DVC writes again at any commit, whole
IGNORE_FILE = ".gitignore"
_DVC_ENTRY = re.compile(r"/[^/]+")  # what DVC appends to the .gitignore beside an output: '/seed0'
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}")


@dataclass(frozen=True)
class Change:
    """One line of `git status --porcelain`."""

    path: str
    tracked: bool  # False: untracked ('??')


@dataclass(frozen=True)
class Synced:
    """What `sync` did, for its one summary line."""

    commit: str  # the full hash checked out
    pushed: str  # what `dvc push --run-cache` said (last line), or why nothing was pushed
    discarded: tuple[str, ...]  # the DVC files reset or deleted
    kept_ignored: int = 0  # DVC entries written again for outputs this commit does not record

    def summary(self) -> str:
        ignores = sum(1 for path in self.discarded if path.endswith(IGNORE_FILE))
        lock = "dvc.lock and " if LOCK_FILE in self.discarded else ""
        kept = f" ({self.kept_ignored} not in this commit's dvc.lock kept ignored)" if self.kept_ignored else ""
        discarded = (f"discarded {lock}{ignores} .gitignore file(s) DVC writes" if self.discarded
                     else "nothing to discard")
        return (f"at {self.commit[:7]}: pushed first ({self.pushed}); {discarded}; outputs{kept} and state/ "
                "left in place")


def _run(args: list[str], root: Path, what: str) -> str:
    result = subprocess.run(args, cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip() or result.stdout.strip() or "no output").splitlines()[-1]
        raise SrganError(f"{what} failed ({last}); nothing was reset")
    return result.stdout


def _git(root: Path, *args: str, what: str = "") -> str:
    return _run(["git", *args], root, what or f"git {' '.join(args)}")


def changes(root: Path) -> list[Change]:
    """Tracked files that differ from HEAD (staged or not) and untracked files git does not ignore."""
    out = _git(root, "status", "--porcelain=v1", "-z", "--untracked-files=all")
    entries, result = out.split("\0"), []
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if not entry:
            continue
        code, path = entry[:2], entry[3:]
        if code[0] in "RC":  # a rename or copy: the next entry is its source
            i += 1
        result.append(Change(path, tracked=code != "??"))
    return result


def output_folders(dvc_yaml: Path) -> list[re.Pattern]:
    """The folders where dvc.yaml puts outputs, as patterns (a `${…}` placeholder matches any name)."""
    stages = (yaml.safe_load(dvc_yaml.read_text(encoding="utf-8")) or {}).get("stages") or {}
    folders = set()
    for stage in stages.values():
        body = stage.get("do", stage)
        for key in ("outs", "metrics", "plots"):
            for out in body.get(key) or []:
                path = out if isinstance(out, str) else next(iter(out))
                folders.add(path.rstrip("/").rpartition("/")[0])
    return [re.compile(_folder_pattern(folder)) for folder in sorted(folders)]


def _folder_pattern(folder: str) -> str:
    """'models/srgan/${item.variant}' -> 'models/srgan/[^/]+'."""
    parts = _PLACEHOLDER.split(folder)
    return "[^/]+".join(re.escape(part) for part in parts)


def _lines(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines() if line.strip()}


def dvc_ignore_entries(root: Path, change: Change, folders: list[re.Pattern]) -> set[str] | None:
    """When `change` is a .gitignore whose changed lines are all DVC's entries for outputs in its folder:
    the entries it has that HEAD's has not; else None."""
    path = change.path
    if path.rpartition("/")[2] != IGNORE_FILE:
        return None
    folder = path.rpartition("/")[0]
    if not any(pattern.fullmatch(folder) for pattern in folders):
        return None
    now = _lines((root / path).read_text(encoding="utf-8")) if (root / path).is_file() else set()
    shown = subprocess.run(["git", "show", f"HEAD:{path}"], cwd=root, capture_output=True, text=True)
    before = _lines(shown.stdout) if change.tracked and shown.returncode == 0 else set()
    return now - before if all(_DVC_ENTRY.fullmatch(line) for line in now ^ before) else None


def _keep_ignored(root: Path, entries: dict[str, set[str]]) -> int:
    """Append DVC's entries again where the output is still here and the new .gitignore lacks it (an output
    of a run this commit does not record yet), as DVC writes them, so that `git add -A` never takes it.
    Returns how many were appended."""
    appended = 0
    for path, lines in entries.items():
        file = root / path
        present = _lines(file.read_text(encoding="utf-8")) if file.is_file() else set()
        missing = [line for line in sorted(lines - present) if (file.parent / line[1:]).exists()]
        if missing:
            text = file.read_text(encoding="utf-8") if file.is_file() else ""
            file.write_text(text + ("" if not text or text.endswith("\n") else "\n") + "".join(
                f"{line}\n" for line in missing), encoding="utf-8")
            appended += len(missing)
    return appended


def _in_commit(root: Path, commit: str, path: str) -> bool:
    return subprocess.run(["git", "cat-file", "-e", f"{commit}:{path}"], cwd=root, capture_output=True).returncode == 0


def _has_dvc_remote(root: Path) -> bool:
    result = subprocess.run([sys.executable, "-m", "dvc", "remote", "default"], cwd=root, capture_output=True,
                            text=True)
    return result.returncode == 0 and bool(result.stdout.strip())


def sync(root: Path, commit: str) -> Synced:
    """Bring the clone at `root` to `commit` (the module docstring's four steps)."""
    if not (root / "dvc.yaml").is_file():
        raise SrganError(f"{root} has no dvc.yaml: run `srgan worker sync` in the project's clone")
    folders = output_folders(root / "dvc.yaml")
    discard, keep, entries = [], [], {}
    for change in changes(root):
        added = None if change.path in DVC_WRITTEN else dvc_ignore_entries(root, change, folders)
        if change.path in DVC_WRITTEN or added is not None:
            discard.append(change)
            entries[change.path] = added or set()
        else:
            keep.append(change)
    for change in keep:
        if change.tracked:
            raise SrganError(f"{change.path} is changed, and it is not something DVC writes again: commit it "
                             f"(results in git belong in a commit) or `git checkout -- {change.path}`; "
                             "nothing was reset")
    if _git(root, "remote").strip():
        _git(root, "fetch", "-q", what="git fetch")
    resolved = _run(["git", "rev-parse", "--verify", "-q", f"{commit}^{{commit}}"], root,
                    f"finding commit {commit!r}").strip()
    for change in keep:
        if _in_commit(root, resolved, change.path):
            raise SrganError(f"{change.path} is untracked here and {commit} tracks it: move it away first; "
                             "nothing was reset")
    if _has_dvc_remote(root):
        said = _run([sys.executable, "-m", "dvc", "push", "--run-cache"], root, "dvc push --run-cache")
        pushed = "dvc push --run-cache: " + (said.strip().splitlines() or ["done"])[-1]
    else:
        pushed = "no DVC remote: the results stay in this cache"
    for change in discard:
        if change.tracked:
            _git(root, "checkout", "-q", "HEAD", "--", change.path)
        else:
            (root / change.path).unlink()
    _git(root, "checkout", "-q", "--detach", resolved, what=f"git checkout {commit}")
    for path in DVC_WRITTEN:
        entries.pop(path, None)
    return Synced(resolved, pushed, tuple(change.path for change in discard), _keep_ignored(root, entries))


if __name__ == "__main__":
    raise SystemExit("error: srgan.pipeline.worker is a library module, not a command: run `srgan worker sync "
                     "COMMIT` (or `python -m srgan worker sync COMMIT`)")
