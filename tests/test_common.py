"""Shared pieces: non-finite JSON, the store root, the CLI dispatcher."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from workbench import jsonio
from workbench.cli import build_parser, main
from workbench.paths import data_root, store_path, store_root


def test_nonfinite_json_round_trip():
    obj = {"a": math.nan, "b": [math.inf, -math.inf, 1.5], "c": "text", "d": None}
    text = jsonio.dumps(obj)
    assert json.loads(text) == {"a": "NaN", "b": ["Infinity", "-Infinity", 1.5], "c": "text",
                                "d": None}  # fmt: skip
    back = jsonio.loads(text)
    assert math.isnan(back["a"]) and back["b"][:2] == [math.inf, -math.inf]
    assert jsonio.loads('{"name": "NaN", "x": "NaN"}', keys={"x"})["name"] == "NaN"


def test_store_root_follows_workbench_home(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "h"))
    assert store_root() == (tmp_path / "h").resolve() and store_root().is_dir()
    assert store_path("runs", "x.ipynb").parent.is_dir()
    monkeypatch.delenv("WORKBENCH_DATA")
    assert data_root() == (tmp_path / "h" / "datasets").resolve()


def test_store_root_defaults_to_the_checkout(monkeypatch):
    monkeypatch.delenv("WORKBENCH_HOME")
    assert store_root() == Path(__file__).resolve().parents[1] / "store"


def test_cli_without_command_is_bad_input(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err


def test_every_registered_command_has_help():
    parser = build_parser()
    with pytest.raises(SystemExit) as info:
        parser.parse_args(["--help"])
    assert info.value.code == 0
