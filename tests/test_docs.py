"""The docs and the code's own words point only at what exists, and the params files state no results.

For README.md, every page of docs/ and the package's own pages (srgan/**/*.md): each repository path
in backticks (`srgan/…`, `stages/…`, `profiles/…`, `benchmarks/…`, `tests/…`, `docs/…`, `report/…`,
`metrics/…`, `.dvc/…`), each `srgan.<package>.<module>` (and the name after it, when it names one),
each relative link and its #anchor must exist.

A pointer is code: the docstrings and comments of srgan/, stages/, benchmarks/ and tests/ are read the
same way, with or without backticks — each repository path, each srgan module and name, and each
section they cite (`docs/gpus.md, "Several machines"`, `README: "Two commands"`, `docs/<page>.md#<anchor>`).
Left alone there: report/ and metrics/ (outputs whose layout the code that writes them describes),
quoted examples ('srgan/mse' is a model, "srgan/vgg19_5_4.json" a relative path) and `srgan/<variant>`
(a model's name, experiment/variant).

The comments of params.yaml and the profiles state no measured figure (a dB, a speed-up, a time):
figures live in the docs with where they came from, so a comment cannot contradict them.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from functools import cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "srgan").rglob("*.md"))]
CODE_ROOTS = ("srgan", "stages", "benchmarks", "tests")
CHECKED_ROOTS = ("srgan/", "stages/", "profiles/", "benchmarks/", "tests/", "docs/", "report/", "metrics/", ".dvc/",
                 ".ci/")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
MODULE = re.compile(r"(?<![/\w.])srgan(?:\.[A-Za-z_][A-Za-z0-9_]*)+")  # not srgan/training/srgan.py
# In code: a bare or backticked path under a source root (not quoted, not inside another path or a URL).
CODE_PATH = re.compile(r"(?<![\w./'\"@:-])((?:srgan|stages|profiles|benchmarks|tests|docs|\.dvc|\.ci)/[^\s`'\"(),;]*)")
SECTION = re.compile(r"(?<![\w/.-])(README(?:\.md)?|docs/[\w-]+\.md)(?:[:,] \"([^\"]+)\"|#([\w-]+))")
LINK = re.compile(r"\]\(([^)\s]+)\)")
REJECTED_KEY = re.compile(r"(?:unknown params key '|-S '\+)(srgan(?:\.[A-Za-z_]\w*)+)")  # shown refused
PLACEHOLDER = re.compile(r"[<>*{}…|$]")  # a pattern, not a path: models/<v>/…, report/*.md


def _pages() -> list[Path]:
    assert (ROOT / "docs").is_dir() and len(PAGES) > 5, "the docs/ pages are missing"
    return PAGES


def _paths(text: str) -> set[str]:
    out = set()
    for span in CODE_SPAN.findall(text):
        for word in span.split():
            word = word.strip("'\",;:()").split("::")[0]
            if word.startswith(CHECKED_ROOTS) and not PLACEHOLDER.search(word):
                out.add(word.rstrip("/."))
    return out


@cache
def _defined(path: Path) -> frozenset[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return frozenset(names)


@cache
def _srgan_params_keys() -> frozenset[str]:
    """The keys of the params section `srgan` ('srgan.variants.x' is a params key, not a module)."""
    return frozenset(yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))["srgan"])


def _module_problem(dotted: str) -> str | None:
    """None when `dotted` is a module of the package, or a module and names defined in it (or a params key
    of the `srgan` section)."""
    parts = dotted.split(".")
    if parts[1] in _srgan_params_keys():
        return None
    for n in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:n])
        file = base.with_suffix(".py") if not base.is_dir() else base / "__init__.py"
        if file.is_file():
            rest = parts[n:]
            if not rest:
                return None
            if rest[0] in _defined(file):
                return None
            return f"{'.'.join(parts[:n])} defines no '{rest[0]}'"
    return "no such module"


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {_slug(line.lstrip("#")) for line in page.read_text(encoding="utf-8").splitlines()
            if line.startswith("#")}


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_cited_paths_modules_and_links_exist(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    missing = [p for p in sorted(_paths(text)) if not (ROOT / p).exists()]
    assert not missing, f"{page.name} cites paths that do not exist: {missing}"
    rejected = set(REJECTED_KEY.findall(text))  # a mistyped key shown being refused is meant not to exist
    bad = {m: why for m in sorted(set(MODULE.findall(text)) - rejected) if (why := _module_problem(m))}
    assert not bad, f"{page.name} cites modules that do not exist: {bad}"
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        file, _, anchor = target.partition("#")
        linked = (page.parent / file).resolve() if file else page
        assert linked.exists(), f"{page.name} links to {target}, which does not exist"
        if anchor and linked.suffix == ".md":
            assert anchor in _anchors(linked), f"{page.name} links to {target}: no such heading"


def code_texts(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every docstring and comment of a Python file."""
    source = path.read_text(encoding="utf-8")
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.append((first.lineno, str(first.value.value)))
    out += [(tok.start[0], tok.string) for tok in tokenize.generate_tokens(io.StringIO(source).readline)
            if tok.type == tokenize.COMMENT]
    return out


def pointer_problems(text: str) -> list[str]:
    """What a docstring or comment cites that does not exist: paths, srgan modules and names, sections."""
    problems = []
    for word in CODE_PATH.findall(text):
        word = word.rstrip(".:")
        parts = word.split("/")
        if "#" in word or PLACEHOLDER.search(word) or (parts[0] == "srgan" and len(parts) == 2 and "." not in parts[1]
                                        and parts[1] and not (ROOT / "srgan" / parts[1]).exists()):
            continue  # a page#anchor (SECTION's), a pattern, or srgan/<variant>: a model's name
        if not (ROOT / word.rstrip("/")).exists():
            problems.append(f"path {word}")
    rejected = set(REJECTED_KEY.findall(text))  # a mistyped key shown being refused is meant not to exist
    problems += [f"module {m}: {why}" for m in sorted(set(MODULE.findall(text)) - rejected)
                 if (why := _module_problem(m))]
    for page, heading, anchor in SECTION.findall(text):
        file = ROOT / ("README.md" if page.startswith("README") else page)
        slug = _slug(heading) if heading else anchor
        if not file.is_file():
            problems.append(f"page {page}")
        elif slug not in _anchors(file):
            problems.append(f"section {page}: {heading or '#' + anchor}")
    return problems


@pytest.mark.parametrize("folder", CODE_ROOTS)
def test_docstrings_and_comments_point_at_what_exists(folder: str) -> None:
    bad = {f"{path.relative_to(ROOT).as_posix()}:{line}": found
           for path in sorted((ROOT / folder).rglob("*.py"))
           for line, text in code_texts(path) if (found := pointer_problems(text))}
    assert not bad, f"docstrings and comments of {folder}/ cite what does not exist: {bad}"


def test_nothing_points_outside_the_repository() -> None:
    for page in _pages():
        assert "BRIEF" not in page.read_text(encoding="utf-8"), page.name


FIGURE = re.compile(r"\d(?:\.\d+)?\s*(?:dB\b|x faster|x slower|%|s per step|s/step|steps/s|ms\b|MiB|GiB)")


@pytest.mark.parametrize("path", [ROOT / "params.yaml", *sorted((ROOT / "profiles").glob("*.yaml"))],
                         ids=lambda p: p.name)
def test_params_comments_state_no_measured_figures(path: Path) -> None:
    comments = [line.split("#", 1)[1] for line in path.read_text(encoding="utf-8").splitlines() if "#" in line]
    figures = [c.strip() for c in comments if FIGURE.search(c)]
    assert not figures, f"{path.name}: comments with measured figures (put them in docs/ with their source): {figures}"


def test_the_checks_catch_what_they_are_for(tmp_path: Path) -> None:
    """A made-up path, module, name or anchor is caught; a real one is not."""
    assert _paths("see `srgan/nope.py` and `models/<v>/best.pt`") == {"srgan/nope.py"}
    assert MODULE.findall("`srgan/training/srgan.py` and srgan.report.stats") == ["srgan.report.stats"]
    assert _module_problem("srgan.report.stats.compare_pairs") is None
    assert _module_problem("srgan.report.stats.nope") == "srgan.report.stats defines no 'nope'"
    assert _module_problem("srgan.niqe") == "srgan defines no 'niqe'"
    assert _module_problem("srgan.variants.hybrid_vgg19_5_4.mse") is None  # a params key
    # a mistyped key shown being refused is meant not to exist; the same name cited otherwise is caught
    assert pointer_problems("dvc exp run -S '+srgan.stepz=5': unknown params key 'srgan.stepz'") == []
    assert pointer_problems("the steps (srgan.stepz)") == ["module srgan.stepz: srgan defines no 'stepz'"]
    assert "what-reruns-when" in _anchors(ROOT / "docs" / "pipeline.md")


def test_the_code_check_catches_a_made_up_pointer() -> None:
    """In a docstring or comment: a moved test file, a module or name that is gone, a section that is not there."""
    assert pointer_problems("checked by tests/test_dvc_graph.py (now tests/pipeline/test_dvc_graph.py)") == [
        "path tests/test_dvc_graph.py"]
    assert pointer_problems("the guard (`srgan.training.steps.StepGuard`); see srgan.training.guard.StepGuard") == [
        "module srgan.training.steps.StepGuard: srgan.training defines no 'steps'"]
    assert pointer_problems("a view (srgan.core.config.params_view)") == [
        "module srgan.core.config.params_view: srgan.core.config defines no 'params_view'"]
    assert pointer_problems('run torchrun yourself (docs/gpus.md, "Several nodes")') == [
        "section docs/gpus.md: Several nodes"]
    assert pointer_problems('(README: "Running the study on several hosts")') == [
        "section README: Running the study on several hosts"]
    assert pointer_problems("docs/gpus.md#several-machines, docs/nope.md#x") == ["page docs/nope.md"]
    # what is no pointer: a quoted example, a model's name, a pattern, an output described by its writer
    assert pointer_problems("'srgan/vgg19_5_4/seed0'; srgan/mse vs srgan/vgg; stages/train_<kind>.py; "
                            "report/metrics/x.json; metrics/srgan/mse.json; https://x.org/tests/a.py") == []
    # what exists passes
    assert pointer_problems('tests/pipeline/test_dvc_graph.py, srgan.core.sections.params_view, '
                            'docs/gpus.md, "Several machines"; srgan/training/guard.py') == []
    lines = dict(code_texts(ROOT / "tests" / "test_docs.py"))
    assert any("moved test file" in text for text in lines.values())  # docstrings are read
    assert any("# not srgan/training/srgan.py" == text for text in lines.values())  # and comments
    assert FIGURE.search("SRResNet-MSE beats bicubic by 0.25 dB") and not FIGURE.search("10 validation points")
