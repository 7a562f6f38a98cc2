"""The `ecom` console script."""

import subprocess
import sys
from pathlib import Path

from ecom_assets.cli import main

ECOM = Path(sys.executable).parent / "ecom"


def test_generate_writes_the_default_export_into_the_landing_zone(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ECOM_RAW_DIR", str(tmp_path / "raw"))
    assert main(["generate", "--rows", "2000", "--seed", "9"]) == 0
    written = tmp_path / "raw" / "orders_2000_seed9.csv"
    lines = written.read_text().splitlines()
    assert lines[0].startswith("OrderID,OrderDate,CustomerID,Product,Category,Price")
    assert f"wrote {len(lines) - 1:,} order lines" in capsys.readouterr().out


def test_if_empty_leaves_a_landing_zone_with_exports_alone(tmp_path, monkeypatch, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "mine.csv").write_text("OrderID\n1\n")
    monkeypatch.setenv("ECOM_RAW_DIR", str(raw))
    assert main(["generate", "--rows", "2000", "--if-empty"]) == 0
    assert [p.name for p in raw.iterdir()] == ["mine.csv"]
    assert "already holds exports" in capsys.readouterr().out


def test_bad_arguments_are_refused_with_a_message(tmp_path) -> None:
    result = subprocess.run(
        [str(ECOM), "generate", "--rows", "10", "--out", str(tmp_path / "x.csv")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("ecom generate: ")
    assert "1000" in result.stderr or "1,000" in result.stderr
    assert not (tmp_path / "x.csv").exists()
