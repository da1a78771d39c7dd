"""Packaging: the `sift` console script is `python -m core`, the dependencies are the pins in
requirements.txt, and an installed wheel holds every package of core and ui."""

from __future__ import annotations

import runpy
import tomllib
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_sift_console_script_runs_what_python_dash_m_core_runs(monkeypatch):
    import core.cli

    def stand_in(argv=None):
        return 7

    monkeypatch.setattr(core.cli, "main", stand_in)
    with pytest.raises(SystemExit) as exited:  # python -m core
        runpy.run_module("core", run_name="__main__")
    assert exited.value.code == 7  # core/__main__.py exits with core.cli.main()

    value = PYPROJECT["project"]["scripts"]["sift"]
    assert EntryPoint(name="sift", value=value, group="console_scripts").load() is stand_in


def test_the_dependencies_are_the_pins_in_requirements_txt():
    assert "dependencies" not in PYPROJECT["project"]  # no second copy to drift
    assert "dependencies" in PYPROJECT["project"]["dynamic"]
    setuptools_config = PYPROJECT["tool"]["setuptools"]
    assert setuptools_config["dynamic"]["dependencies"] == {"file": ["requirements.txt"]}
    pins = [
        line.strip()
        for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert pins and all("==" in pin and not pin.startswith("-") for pin in pins)
    assert "datasets==5.2.0" in pins  # core.export writes the Hugging Face folder with it


def test_package_discovery_finds_every_package_of_core_and_ui():
    from setuptools import find_packages

    find = PYPROJECT["tool"]["setuptools"]["packages"]["find"]
    found = set(find_packages(where=str(ROOT), include=find["include"]))
    expected = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for top in ("core", "ui")
        for path in (ROOT / top).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert expected and expected <= found
    assert {name.split(".")[0] for name in found} == {"core", "ui"}
    data = PYPROJECT["tool"]["setuptools"]["package-data"]["core.examples"]
    shipped = {p.name for pattern in data for p in (ROOT / "core" / "examples").glob(pattern)}
    assert {"customer_inbox.yaml", "customer_inbox.csv"} <= shipped
