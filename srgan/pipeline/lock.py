"""dvc.lock entries that keep DVC away from its run-cache, and the command that drops them.

DVC decides whether to run a stage from its dvc.lock entry first: while the entry matches the stage
(its command, params, code and data), `dvc repro` checks out the outputs the entry names, and looks
the stage up in its run-cache only when the entry does not match. So in a clone whose dvc.lock names
outputs that are in neither the DVC cache nor the DVC remote — a commit whose results another machine
produced and did not push, while this cache holds its own run of the same stage (another machine's
floating point gives other bytes) — `dvc repro` and `dvc exp run` train the stage again although the
run-cache holds an equivalent run (DVC 3.67, measured: `tests/pipeline/test_pipeline.py`,
`test_an_unavailable_lock_entry_reruns_a_stage_the_run_cache_holds_until_it_is_forgotten`).

`srgan lock forget-unavailable` drops exactly those entries, with DVC's own YAML writer. DVC then finds
the stage in its run-cache (`Stage '…' is cached - skipping run, checking out outputs`); a stage the
run-cache does not hold runs, as it would have anyway. The next `dvc repro` writes the entries again,
naming the outputs this clone has. Entries whose outputs are in the cache or the remote stay: `dvc
checkout` / `dvc pull` restore those.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from srgan.core.errors import SrganError
from srgan.pipeline.done import LOCK_FILE, locked_names, locked_stages


@dataclass(frozen=True)
class Unavailable:
    """The matching dvc.lock entries whose outputs nobody here can check out, and where they were looked for."""

    stages: tuple[str, ...]  # in dvc.yaml order
    looked_in: str  # 'the DVC cache and the DVC remote 'store'' or 'the DVC cache (no DVC remote is configured)'


def unavailable_entries(root: Path) -> Unavailable:
    """The dvc.lock entries at `root` that match their stage but name a cached output that is in neither the DVC
    cache nor the default DVC remote (when one is configured)."""
    from dvc.config import NoRemoteError
    from dvc.exceptions import DvcException, NotDvcRepoError
    from dvc_data.hashfile.hash_info import HashInfo

    try:
        from dvc.repo import Repo

        with Repo(str(root)) as repo:
            stages = [s for s in locked_stages(repo, locked_names(root)) if s.mismatch is None]
            wanted = {digest for stage in stages for _, digest, cached in stage.outs if cached and digest}
            cache = repo.cache.local
            missing = {d for d in wanted if not cache.exists(d)}
            looked_in = "the DVC cache (no DVC remote is configured)"
            try:
                remote = repo.cloud.get_remote(command="srgan lock")
            except NoRemoteError:
                remote = None
            if remote is not None and missing:
                status = repo.cloud.status([HashInfo("md5", d) for d in missing])
                missing -= {h.value for h in (*status.ok, *status.deleted)}
            if remote is not None:
                looked_in = f"the DVC cache and the DVC remote '{remote.name}'"
    except NotDvcRepoError:
        raise SrganError(f"{root} is not a DVC project: run this in the project's clone") from None
    except DvcException as e:
        raise SrganError(f"could not read the DVC project at {root} ({e})") from None
    names = tuple(s.name for s in stages if any(cached and digest in missing for _, digest, cached in s.outs))
    return Unavailable(names, looked_in)


def forget_entries(root: Path, names: tuple[str, ...]) -> None:
    """Drop the dvc.lock entries `names` at `root`, in DVC's own YAML writer (the rest of the file unchanged)."""
    from dvc.utils.serialize import modify_yaml

    if names:
        with modify_yaml(str(root / LOCK_FILE)) as lock:
            for name in names:
                del lock["stages"][name]


if __name__ == "__main__":
    raise SystemExit("error: srgan.pipeline.lock is a library module, not a command: run "
                     "`srgan lock forget-unavailable`")
