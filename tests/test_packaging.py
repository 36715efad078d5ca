"""The project's own files install what it needs: pyproject and environment.yml agree."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _environment_pip_deps() -> set[str]:
    text = (ROOT / "environment.yml").read_text()
    deps = re.findall(r"^\s+- (\S.*)$", text, flags=re.M)
    return {
        d.strip() for d in deps if d.strip() not in ("-e .", "pip", "pip:") and "python=" not in d
    }


def test_environment_yml_mirrors_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = set(project["dependencies"])
    for extra in ("test", "postgres"):
        wanted |= set(project["optional-dependencies"][extra])
    assert _environment_pip_deps() == wanted


def test_dependencies_are_pinned_and_torch_matches_the_machine():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + [
        d for extra in project["optional-dependencies"].values() for d in extra
    ]
    assert all("==" in d for d in deps), [d for d in deps if "==" not in d]
    assert "torch==2.14.1" in deps and "torchvision==0.29.1" in deps


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme.split("\n\n")[1]
    assert "make test" in ci and "WORKBENCH_REQUIRE_SERVICES=1" in ci
