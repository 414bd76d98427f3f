"""The packages' layers read top-down: `gitgoods/` is the foundation and imports none of the parts
above it; the storefront, the pipelines and the portal build on it and never import each other;
only `launcher/` (what `make up` runs) imports them together, and nothing imports it. The scan
reads every import of every file, function-level ones included (tests/test_dependencies.py)."""

from __future__ import annotations

import pytest

from gitgoods.settings import REPO_ROOT
from tests.test_dependencies import imports_of

PARTS = {"storefront", "pipelines", "portal", "launcher"}


def imported_parts(package: str) -> dict[str, set[str]]:
    """The project's packages each file of `package` imports, other than the foundation and itself."""
    found = {}
    for path in sorted((REPO_ROOT / package).rglob("*.py")):
        parts = {m.split(".")[0] for m in imports_of(path)} & (PARTS - {package})
        if parts:
            found[str(path.relative_to(REPO_ROOT))] = parts
    return found


def test_the_foundation_imports_none_of_the_parts_above_it():
    assert imported_parts("gitgoods") == {}


@pytest.mark.parametrize("package", ["storefront", "pipelines", "portal"])
def test_the_parts_do_not_import_each_other_nor_the_launcher(package):
    assert imported_parts(package) == {}


def test_the_launcher_is_what_brings_them_together():
    """The scan is not blind: the launcher's imports of the storefront and the pipelines are seen."""
    seen = set().union(*imported_parts("launcher").values())
    assert {"storefront", "pipelines"} <= seen
