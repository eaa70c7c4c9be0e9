"""The public API: every exported name resolves, and importing it pulls in no heavy dependency."""

import importlib

import pytest

PACKAGES = ["kubric_gen", "kubric_gen.io", "kubric_gen.assets", "kubric_gen.truth", "kubric_gen.render",
            "kubric_gen.datasets", "kubric_gen.pipeline", "kubric_gen.visual"]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_name_in_all_resolves(package):
    module = importlib.import_module(package)
    exported = getattr(module, "__all__", [])
    missing = [name for name in exported if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names what {package} does not define: {missing}"


def test_star_import_of_the_package_works():
    namespace: dict = {}
    exec("from kubric_gen import *", namespace)  # noqa: S102 - the statement users write
    assert "HdriBackground" in namespace and "Scene" in namespace
