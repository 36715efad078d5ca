"""`workbench policies list|show|plot` and the CLI's exit codes."""

from __future__ import annotations

import json

from workbench.cli import main
from workbench.policies import from_spec


def test_list_json_has_every_function(capsys):
    assert main(["policies", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} >= {"FIX", "NSTEP", "COSRSWEXP", "LINEAR"}
    assert all(r["family"] in ("fixed", "decaying", "cyclic", "restart") for r in rows)


def test_show_prints_canonical_form_and_hash(capsys):
    spec = {"k0": 0.1, "function": "STEP", "l": 10, "gamma": 0.5}
    assert main(["policies", "show", json.dumps(spec), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["hash"] == from_spec(spec).hash
    assert out["spec"] == {"function": "STEP", "k0": 0.1, "gamma": 0.5, "l": 10}
    assert out["text"] == "STEP(k0=0.1, gamma=0.5, l=10)"
    assert out["families"] == ["decaying"]


def test_show_accepts_text_and_files(tmp_path, capsys):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"function": "FIX", "k0": 0.1}))
    assert main(["policies", "show", str(path), "--json"]) == 0
    a = json.loads(capsys.readouterr().out)
    assert main(["policies", "show", "FIX(k0=0.1)", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["hash"] == a["hash"]


def test_plot_writes_png(tmp_path, capsys):
    out = tmp_path / "p.png"
    code = main(["policies", "plot", "TRI(k0=0.001, k1=0.01, l=50)", "FIX(k0=0.005)",
                 "--budget", "300", "--out", str(out), "--log"])  # fmt: skip
    assert code == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_input_exits_2_with_message(capsys):
    assert main(["policies", "show", '{"function": "TRI", "k0": -1, "k1": 1, "l": 5}']) == 2
    err = capsys.readouterr().err
    assert "k0" in err and "-1" in err and "negative" in err
    assert main(["policies", "show", "{not json"]) == 2
    assert main(["policies", "plot", "FIX(k0=0.1)", "--budget", "0"]) == 2
