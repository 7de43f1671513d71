"""What the study has already done, as every host sees it: the stages `srgan plan` need not deal again.

A stage is **done** when

1. its dvc.lock entry still matches it: the same command, the same values of the params it declares,
   the same bytes of every code file it depends on (DVC's own checks, `Stage.cmd_changed` and
   `Dependency.status()`; the code is in git, so every host at one commit sees the same);
2. each of its data deps is what its upstream stage's entry records as that output (a dep that is a
   folder holding upstream outputs, such as `data/prepared/test`, follows from those stages being
   done), and every upstream stage is done itself — except the params check (`check_params`), which
   reruns with any edit of params.yaml and writes the same bytes while the file passes: a dep on its
   output needs only to be the output dvc.lock records;
3. every cached output its entry records is in the DVC remote (`dvc repro --pull` fetches it from
   there instead of running the stage), or in the cache when no remote is configured (the GPUs of
   one host sharing one cache).

This is the decision `dvc repro --pull` makes before pulling a stage instead of running it, taken
from dvc.lock and the remote alone: nothing in the workspace counts (a fresh clone and a used one
agree), so every host that plans at the same commit deals the same runs. Runs that a worker pushed to
the run-cache but no commit records yet are not done here: the plan of a round must not change while
its workers start. A host dealt such a run again restores it from the run-cache in seconds
(`Stage '…' is cached - skipping run`).
"""

from __future__ import annotations

import posixpath
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from srgan.core.errors import SrganError
from srgan.pipeline.dvc_yaml import CHECK_STAGE

LOCK_FILE = "dvc.lock"


@dataclass(frozen=True)
class LockedStage:
    """One stage instance of dvc.yaml beside its dvc.lock entry."""

    name: str  # 'train_srgan@hybrid_res18_4-0'
    mismatch: str | None  # None: its entry matches its command, params and code; else why not
    data: tuple[tuple[str, str | None], ...]  # (dep path, hash its entry records): deps that are outputs
    outs: tuple[tuple[str, str | None, bool], ...]  # (path, hash its entry records, cached)


@dataclass(frozen=True)
class Done:
    """What is done (`stages`) and, for every other stage, why not (`why_not`)."""

    stages: frozenset[str]
    why_not: Mapping[str, str]
    unstored: tuple[str, ...]  # stages whose entry matches, but an output is not in `store`
    store: str  # where the outputs were looked for, in words
    lock_committed: bool  # dvc.lock is as the commit holds it (what the other hosts plan from)


def _norm(path: str) -> str:
    return posixpath.normpath(path.replace("\\", "/"))


def _inside(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip("/") + "/")


def decide(stages: Sequence[LockedStage], stored: frozenset[str], store: str) -> dict[str, str | None]:
    """For each stage, None when it is done, else why not (the rules of the module docstring).

    stored: the output hashes (as dvc.lock writes them, `….dir` for folders) found in `store`.
    """
    by_name = {stage.name: stage for stage in stages}
    producer = {path: (stage.name, digest) for stage in stages for path, digest, _ in stage.outs}
    verdicts: dict[str, str | None] = {}

    def upstream_not_done(names: set[str]) -> str | None:
        for name in sorted(names):
            if verdict(name) is not None:
                return f"{name} is not done"
        return None

    def verdict(name: str) -> str | None:
        if name in verdicts:
            return verdicts[name]
        stage = by_name[name]
        why = stage.mismatch
        for path, digest in stage.data:
            if why is not None:
                break
            if path in producer:
                upstream, recorded = producer[path]
                # The params check reruns whenever params.yaml changes, on every host, in seconds, and writes the
                # same bytes while the file passes: its output being the recorded one is all that counts.
                why = None if upstream == CHECK_STAGE else upstream_not_done({upstream})
                if why is None and digest != recorded:
                    why = f"{path} is not the output dvc.lock records for {upstream}"
            else:  # a folder holding outputs, or a path inside one: it follows from those stages
                why = upstream_not_done({up for out, (up, _) in producer.items()
                                         if _inside(out, path) or _inside(path, out)})
        if why is None:
            for path, digest, cached in stage.outs:
                if digest is None:
                    why = f"dvc.lock records no {path}"
                elif cached and digest not in stored:
                    why = f"{path} is not in {store}"
                if why is not None:
                    break
        verdicts[name] = why
        return why

    return {stage.name: verdict(stage.name) for stage in stages}


# ---------------------------------------------------------------- from DVC


def locked_names(root: Path) -> set[str]:
    """The stage names dvc.lock at `root` has entries for."""
    path = root / LOCK_FILE
    if not path.is_file():
        return set()
    return set((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("stages") or {})


def _lock_committed(root: Path) -> bool:
    """Whether dvc.lock is as HEAD holds it (True outside git: there is nothing else to plan from)."""
    result = subprocess.run(["git", "status", "--porcelain", "--", LOCK_FILE], cwd=root, capture_output=True,
                            text=True)
    return result.returncode != 0 or not result.stdout.strip()


def locked_stages(repo, locked: set[str]) -> list[LockedStage]:
    """dvc.yaml's stage instances (as DVC resolves them for params.yaml) beside their dvc.lock entries."""
    from dvc.dependency.param import ParamsDependency

    stages = [stage for stage in repo.index.stages if getattr(stage, "name", None)]
    outputs = {_norm(out.def_path) for stage in stages for out in stage.outs}

    def is_data(path: str) -> bool:
        return any(path == out or _inside(out, path) or _inside(path, out) for out in outputs)

    source_changed: dict[tuple[str, object], bool] = {}  # a code file is hashed once for all stages
    result = []
    for stage in stages:
        data, why = [], None
        if stage.name not in locked:
            why = "dvc.lock has no entry for it"
        elif stage.cmd_changed:
            why = "its command changed"
        for dep in stage.deps:
            path = _norm(dep.def_path)
            if isinstance(dep, ParamsDependency):
                changed = dep.status()
                if why is None and changed:
                    why = "params changed: " + ", ".join(key for keys in changed.values() for key in keys)
            elif is_data(path):
                data.append((path, dep.hash_info.value if dep.hash_info else None))
            elif why is None:
                key = (path, dep.hash_info.value if dep.hash_info else None)
                if key not in source_changed:
                    source_changed[key] = bool(dep.status())
                if source_changed[key]:
                    why = f"{path} changed"
        outs = tuple((_norm(out.def_path), out.hash_info.value if out.hash_info else None, out.use_cache)
                     for out in stage.outs)
        result.append(LockedStage(stage.name, why, tuple(data), outs))
    return result


def stored_digests(repo, digests: set[str]) -> tuple[frozenset[str], str]:
    """The digests found in the default DVC remote (or, with none configured, the cache), and where that is."""
    from dvc.config import NoRemoteError
    from dvc_data.hashfile.hash_info import HashInfo

    try:
        remote = repo.cloud.get_remote(command="srgan plan")
    except NoRemoteError:
        cache = repo.cache.local
        return frozenset(d for d in digests if cache.exists(d)), "the DVC cache (no DVC remote is configured)"
    if not digests:
        return frozenset(), f"the DVC remote '{remote.name}'"
    status = repo.cloud.status([HashInfo("md5", digest) for digest in digests])
    return frozenset(h.value for h in (*status.ok, *status.deleted)), f"the DVC remote '{remote.name}'"


def done_stages(root: Path) -> Done:
    """What is done in the DVC project at `root` (dvc.yaml, params.yaml and dvc.lock there)."""
    from dvc.exceptions import DvcException, NotDvcRepoError
    from dvc.repo import Repo

    try:
        with Repo(str(root)) as repo:
            stages = locked_stages(repo, locked_names(root))
            wanted = {digest for stage in stages if stage.mismatch is None
                      for _, digest, cached in stage.outs if cached and digest}
            stored, store = stored_digests(repo, wanted)
    except NotDvcRepoError:
        raise SrganError(f"{root} is not a DVC project: run `srgan plan` in the project's clone, or add --all "
                         "(every run dealt, nothing checked)") from None
    except DvcException as e:
        raise SrganError(f"could not tell what is done ({e}); add --all to deal every run") from None
    verdicts = decide(stages, stored, store)
    unstored = tuple(s.name for s in stages if s.mismatch is None and (verdicts[s.name] or "").endswith(
        f"is not in {store}"))
    return Done(frozenset(n for n, why in verdicts.items() if why is None),
                {n: why for n, why in verdicts.items() if why is not None}, unstored, store, _lock_committed(root))


if __name__ == "__main__":
    raise SystemExit("error: srgan.pipeline.done is a library module, not a command: run "
                     "`srgan plan` (it deals only what is not done)")
