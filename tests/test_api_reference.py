"""Every public name of the modules users import has a docstring and a place in the API
reference (docs/reference/*.md), read the way the site reads them: statically, by griffe."""

from __future__ import annotations

import re
from pathlib import Path

import griffe
import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference"
# the modules a world or a training script imports (docs/reference/index.md)
PUBLIC_MODULES = ("kubric_gen", "kubric_gen.scene", "kubric_gen.assets", "kubric_gen.world", "kubric_gen.labels",
                  "kubric_gen.render.settings", "kubric_gen.io", "kubric_gen.datasets", "kubric_gen.datasets.torch")
DIRECTIVE = re.compile(r"^::: ([\w.]+)\n((?:[ \t]+.*\n|\n)*)", re.MULTILINE)
CROSS_REFERENCE = re.compile(r"\]\[(kubric_gen(?:\.\w+)+)\]")


@pytest.fixture(scope="module")
def loader() -> griffe.GriffeLoader:
    loader = griffe.GriffeLoader(search_paths=[str(ROOT)])
    for module in {m.split(".")[0] for m in PUBLIC_MODULES} | set(PUBLIC_MODULES):
        loader.load(module)
    loader.resolve_aliases(implicit=False, external=False)
    return loader


def _get(loader: griffe.GriffeLoader, path: str) -> griffe.Object:
    obj = loader.modules_collection[path]
    return obj.final_target if obj.is_alias else obj


def _public(module: griffe.Module) -> dict[str, griffe.Object]:
    """The names `from module import *` gives (its `__all__`), or else those it defines."""
    if module.exports is not None:
        names = [n for n in module.exports if not n.startswith("__")]
        return {n: (module[n].final_target if module[n].is_alias else module[n]) for n in names}
    return {n: m for n, m in module.members.items() if not n.startswith("_") and not m.is_alias}


def _documented(loader: griffe.GriffeLoader) -> set[str]:
    """Canonical paths of everything the reference pages render or link to."""
    paths: set[str] = set()
    for page in REFERENCE.glob("*.md"):
        text = page.read_text()
        for target, options in DIRECTIVE.findall(text):
            obj = _get(loader, target)
            members = re.search(r"members:\n((?:\s+- \w+\n)+)", options)
            if isinstance(obj, griffe.Module):
                names = re.findall(r"- (\w+)", members.group(1)) if members else list(_public(obj))
                paths |= {_get(loader, f"{target}.{n}").path for n in names}
            paths.add(obj.path)
        paths |= {_get(loader, target).path for target in CROSS_REFERENCE.findall(text)}
    return paths


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_every_public_name_has_a_docstring(loader, module):
    missing = [f"{module}.{name} ({obj.path})" for name, obj in _public(_get(loader, module)).items()
               if not (obj.docstring and obj.docstring.value.strip())]
    assert not missing, f"public names without a docstring: {missing}"


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_every_public_name_is_in_the_reference(loader, module):
    documented = _documented(loader)
    missing = [f"{module}.{name}" for name, obj in _public(_get(loader, module)).items()
               if obj.path not in documented]
    assert not missing, f"public names on no page of docs/reference/: {missing}"


def test_every_reference_page_is_in_the_site_navigation():
    nav = (ROOT / "mkdocs.yml").read_text()
    assert [p.name for p in REFERENCE.glob("*.md") if f"reference/{p.name}" not in nav] == []


def test_the_check_finds_an_undocumented_name(loader, tmp_path):
    """The two checks above can fail: a module with a bare function and no page."""
    (tmp_path / "undocumented_pkg").mkdir()
    (tmp_path / "undocumented_pkg" / "__init__.py").write_text('"""A module."""\n\ndef helper(x):\n    return x\n')
    other = griffe.GriffeLoader(search_paths=[str(tmp_path)])
    module = other.load("undocumented_pkg")
    public = _public(module)
    assert list(public) == ["helper"] and public["helper"].docstring is None
    assert public["helper"].path not in _documented(loader)
