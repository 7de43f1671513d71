"""Mutation testing of one subpackage against its mirrored tests: mutmut, per subpackage.

mutmut plants one small bug at a time (a constant, an operator, a comparison, a dropped argument)
in `srgan/<subpackage>/` and runs the fast tests of `tests/<subpackage>/` that reach the changed
function; a mutant the tests pass with "survived". The score is killed / mutants.

mutmut reads its settings from `pyproject.toml` in the folder it runs in and keeps its results in
`mutants/` there, so this script gives each subpackage its own folder, `.mutation/<subpackage>/`
(git ignores it): links to the repository, and a copy of `pyproject.toml` whose `[tool.mutmut]`
table is the repository's plus what to mutate (`only_mutate`) and which tests to run
(`pytest_add_cli_args_test_selection`). One subpackage's results then survive runs of another,
and a rerun after an edit only retests the functions that changed (mutmut's cache).
A `shared` link beside `mutants/` lets the tests find ../shared/data as they do in the checkout.

    nice -n 10 python benchmarks/mutation.py report                   # every module of srgan/report
    nice -n 10 python benchmarks/mutation.py report --modules stats   # srgan/report/stats.py only
    nice -n 10 python benchmarks/mutation.py scoring --skip evaluate --fresh --json /tmp/scoring.json
    nice -n 10 python benchmarks/mutation.py report --modules stats --names '*.x_holm__mutmut_*'
    python benchmarks/mutation.py report --survivors                  # the last run's survivors, with diffs

It prints mutants, killed, survived, no tests, timeouts and the score per module. Survivors are
looked at with `mutmut show NAME` in `.mutation/<subpackage>/` (or `--survivors`); each gets a test
that fails on it, or a line in docs/testing.md saying why it is equivalent.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".mutation"
# What the tests read from the repository root besides srgan/ and tests/ (mutmut copies these into mutants/).
ALSO_COPY = [".dvc", ".dvcignore", ".gitignore", "README.md", "benchmarks", "data", "docs", "dvc.lock", "dvc.yaml",
             "metrics", "params.yaml", "profiles", "report", "stages"]  # report/: the docs quote it (test_snapshot)
# `mutmut results` statuses that count as caught (mutmut's own badge counts a timeout as caught).
CAUGHT = {"killed", "timeout", "segfault", "caught by type check"}
MUTATED_MARK = "# mutmut generated"  # on every line mutmut adds to a module it mutated
RESULT_LINE = re.compile(r"^\s+(?P<name>\S+): (?P<status>.+)$")


def _toml_value(value: object) -> str:
    """A TOML literal of a str, bool, int, float or list of them (what [tool.mutmut] holds)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML literal for {value!r}")


def mutmut_settings(pyproject: str, subpackage: str, modules: list[str], tests: list[str]) -> dict[str, object]:
    """The repository's [tool.mutmut] table plus what this run mutates and tests.

    pyproject: the text of pyproject.toml; modules: file stems under srgan/<subpackage>/; tests: pytest paths."""
    settings = dict(tomllib.loads(pyproject).get("tool", {}).get("mutmut", {}))
    settings["source_paths"] = ["srgan"]  # the whole package is copied into mutants/ so every import resolves there
    settings["only_mutate"] = [f"srgan/{subpackage}/{stem}.py" for stem in modules]
    settings["pytest_add_cli_args_test_selection"] = tests
    settings["also_copy"] = [*settings.get("also_copy", []), *ALSO_COPY]
    return settings


def with_settings(pyproject: str, settings: dict[str, object]) -> str:
    """pyproject.toml's text with its [tool.mutmut] table (if any) replaced by `settings`."""
    kept, skipping = [], False
    for line in pyproject.splitlines():
        if line.startswith("["):
            skipping = line.strip() == "[tool.mutmut]"
        if not skipping:
            kept.append(line)
    table = ["[tool.mutmut]", *(f"{key} = {_toml_value(value)}" for key, value in settings.items())]
    return "\n".join([*kept, "", *table, ""])


def prepare(subpackage: str, modules: list[str], tests: list[str], fresh: bool,
            timeout_constant: float | None = None) -> Path:
    """Make .mutation/<subpackage>/ (links to the checkout and its own pyproject.toml); returns it."""
    work = WORK / subpackage
    if fresh and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    for name in ["srgan", "tests", *ALSO_COPY]:
        link = work / name
        if not link.is_symlink() and (ROOT / name).exists():
            link.symlink_to(ROOT / name)
    shared = ROOT.parent / "shared"  # the tests find ../shared/data beside the repository root, here mutants/
    if shared.is_dir() and not (work / "shared").is_symlink():
        (work / "shared").symlink_to(shared)
    # A run copies the modules it does not mutate as they are, and a later run that selects one of them takes the
    # plain copy for its mutated version (the copy is newer than the source): drop such a copy (mutmut keeps the
    # results of unchanged functions from its .meta file) and the record of which tests reach which function,
    # which then lacks that module's functions; mutmut makes both again.
    for stem in modules:
        copy = work / "mutants" / "srgan" / subpackage / f"{stem}.py"
        meta = copy.with_name(f"{stem}.py.meta")
        has_mutants = not meta.is_file() or json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        if copy.is_file() and has_mutants and MUTATED_MARK not in copy.read_text(encoding="utf-8"):
            copy.unlink()
            (work / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
    # mutmut collects its record of which tests reach which function again only for tests it has not seen (and
    # rewrites the file on every run): an edited test that now reaches another function would not be run on that
    # function's mutants. Drop the record when the selected tests' text changed since the last run.
    digest, marker = tests_digest([ROOT / t for t in tests]), work / "tests.sha256"
    if not marker.is_file() or marker.read_text(encoding="utf-8") != digest:
        (work / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
        marker.write_text(digest, encoding="utf-8")
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    settings = mutmut_settings(pyproject, subpackage, modules, tests)
    if timeout_constant is not None:
        settings["timeout_constant"] = timeout_constant
    (work / "pyproject.toml").write_text(with_settings(pyproject, settings), encoding="utf-8")
    return work


def tests_digest(tests: list[Path]) -> str:
    """sha256 over the paths and bytes of the .py files under `tests` (files or folders) and the conftest.py files
    above them: what decides which tests reach which function."""
    files = {f for t in tests for f in ([t] if t.is_file() else t.rglob("*.py"))}
    files |= {c for t in tests for c in (p / "conftest.py" for p in t.resolve().parents) if c.is_file()}
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _mutmut(work: Path, *args: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the mutmut command beside this interpreter in `work`, one intra-op thread per worker."""
    command = [str(Path(sys.executable).with_name("mutmut")), *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.run(command, cwd=work, env=env, text=True, capture_output=capture, check=False)


def results(work: Path) -> dict[str, str]:
    """{mutant name: status} of every mutant of the last run (`mutmut results --all true`)."""
    out = _mutmut(work, "results", "--all", "true", capture=True)
    if out.returncode != 0:
        sys.exit(f"error: mutmut results failed in {work}: {out.stderr.strip()}")
    return {m["name"]: m["status"] for line in out.stdout.splitlines() if (m := RESULT_LINE.match(line))}


def module_of(mutant: str) -> str:
    """The module of a mutant's name, everything before its last dot: mutmut names a mutant
    <module>.x_<function>__mutmut_<n>, a method's <module>.xǁ<Class>ǁ<method>__mutmut_<n>."""
    return mutant.rsplit(".", 1)[0]


def summary(statuses: dict[str, str]) -> list[dict[str, object]]:
    """One row per module and a total: mutants, killed (timeouts included), survived, no tests, other, score %."""
    by_module: dict[str, Counter[str]] = {}
    for name, status in statuses.items():
        by_module.setdefault(module_of(name), Counter())[status] += 1
    rows = []
    for module, counts in [*sorted(by_module.items()), ("total", sum(by_module.values(), Counter()))]:
        mutants = sum(counts.values())
        killed = sum(n for s, n in counts.items() if s in CAUGHT)
        other = mutants - killed - counts["survived"] - counts["no tests"]
        rows.append({"module": module, "mutants": mutants, "killed": killed, "survived": counts["survived"],
                     "no_tests": counts["no tests"], "other": other, "timeouts": counts["timeout"],
                     "score_pct": round(100.0 * killed / mutants, 1) if mutants else None})
    return rows


def print_table(rows: list[dict[str, object]]) -> None:
    print("| module | mutants | killed | survived | no tests | other | score |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        score = "–" if r["score_pct"] is None else f"{r['score_pct']:.1f} %"
        print(f"| {r['module']} | {r['mutants']} | {r['killed']} | {r['survived']} | {r['no_tests']} | "
              f"{r['other']} | {score} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("subpackage", help="a folder of srgan/: report, inference, datasets, scoring, ...")
    parser.add_argument("--modules", nargs="+", default=[], metavar="STEM",
                        help="test the mutants of these modules of the subpackage (file stems); default: all")
    parser.add_argument("--skip", nargs="+", default=[], metavar="STEM", help="modules of the subpackage left out")
    parser.add_argument("--names", nargs="+", default=[], metavar="GLOB",
                        help="test only these mutants, e.g. '*.x_holm__mutmut_*' (mutmut's names, globs)")
    parser.add_argument("--retest", action="store_true",
                        help="test every mutant of the selection again (by default a run of the whole subpackage "
                             "tests only mutants without a result: new ones and those of functions that changed)")
    parser.add_argument("--survivors-again", action="store_true",
                        help="test the selection's survivors again (after adding tests)")
    parser.add_argument("--tests", nargs="+", default=None, metavar="PATH",
                        help="pytest paths to run; default: tests/<subpackage>")
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested at once (default 2)")
    parser.add_argument("--timeout-constant", type=float, default=None, metavar="S",
                        help="seconds added to a mutant's time limit (pyproject's timeout_constant, 60, covers a "
                             "slow fixture); a smaller one for modules whose mutants hang, e.g. waiting on a socket")
    parser.add_argument("--fresh", action="store_true", help="forget earlier results of this subpackage")
    parser.add_argument("--survivors", action="store_true",
                        help="print the last run's survivors of the selected modules with their diffs, run nothing")
    parser.add_argument("--json", type=Path, help="also write the per-module table here")
    args = parser.parse_args(argv)

    package = ROOT / "srgan" / args.subpackage
    if not (package / "__init__.py").is_file():
        sys.exit(f"error: srgan/{args.subpackage} is not a subpackage of srgan")
    stems = sorted(p.stem for p in package.glob("*.py") if p.stem != "__init__")
    unknown = sorted(set(args.modules + args.skip) - set(stems))
    if unknown:
        sys.exit(f"error: srgan/{args.subpackage} has no module {', '.join(unknown)} (it has {', '.join(stems)})")
    selected = {f"srgan.{args.subpackage}.{m}" for m in (args.modules or stems) if m not in args.skip}
    tests = args.tests or [f"tests/{args.subpackage}"]
    work = WORK / args.subpackage

    if args.survivors:
        for name, status in results(work).items():
            if status == "survived" and module_of(name) in selected:
                print(_mutmut(work, "show", name, capture=True).stdout)
        return

    # mutmut tests the mutants it is given by name whatever their earlier result, and without names every mutant of
    # the selected modules that has no result yet (new, or of a function that changed).
    names = list(args.names)
    if not names and args.survivors_again:
        names = [n for n, s in results(work).items() if s == "survived" and module_of(n) in selected]
        if not names:
            sys.exit("no survivors to test again")
    elif not names and args.retest:
        names = [f"{module}.*" for module in sorted(selected)]
    work = prepare(args.subpackage, [m.rsplit(".", 1)[1] for m in sorted(selected)], tests, args.fresh,
                   args.timeout_constant)
    start = time.monotonic()
    run = _mutmut(work, "run", "--max-children", str(args.max_children), *names)
    wall_s = time.monotonic() - start
    if run.returncode != 0:
        sys.exit(f"error: mutmut run failed (exit {run.returncode}) in {work}")
    rows = summary({n: s for n, s in results(work).items() if module_of(n) in selected})
    print(f"\nsrgan/{args.subpackage} against {' '.join(tests)}: {wall_s:.0f} s wall, "
          f"{args.max_children} children\n")
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps({"subpackage": args.subpackage, "tests": tests, "wall_s": round(wall_s),
                                         "rows": rows}, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
