"""`ecom ask`: printed answers, JSON, exit codes, reading a real Delta lake, a light import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ecom_assets.ask import ask, main


def test_json_output(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["--lake-root", str(lake), "--json", "Monthly", "revenue", "for", "Books", "in", "2025"]
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert list(data)[:7] == [
        "question",
        "interpretation",
        "sql",
        "columns",
        "rows",
        "answer",
        "source",
    ]
    assert data["question"] == "Monthly revenue for Books in 2025"
    assert data["source"] == "rules" and data["columns"] == ["month", "total_revenue"]
    assert [row[0] for row in data["rows"]][:2] == ["2025-01-01", "2025-02-01"]


def test_text_output(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lake-root", str(lake), "Top 5 products by predicted revenue"]) == 0
    out = capsys.readouterr().out
    for part in (
        "Interpretation: the 5 products",
        "SQL:",
        "    SELECT",
        "Nimbus Electric Kettle",
        "Answer: The 5 products",
    ):
        assert part in out


@pytest.mark.parametrize(
    ("question", "code", "first_line"),
    [
        ("Top 5 products by profit margin", 1, "Interpretation: not understood"),
        ("DROP TABLE product_decisions", 2, "Interpretation: refused"),
        ("SELECT * FROM read_csv('/etc/passwd')", 2, "Interpretation: refused"),
    ],
)
def test_exit_codes(
    question: str, code: int, first_line: str, lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--lake-root", str(lake), question]) == code
    out = capsys.readouterr().out
    assert first_line in out and "Answer: " in out


def test_a_missing_lake_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lake-root", str(tmp_path), "top 5 products"]) == 1
    assert "has not been built yet" in capsys.readouterr().err


def test_one_shot_ask_reads_the_lake(lake: Path) -> None:
    answer = ask("How many products are in the High bucket?", lake_root=str(lake))
    assert answer.understood and answer.rows == [["High", 10]]


def test_importing_the_assistant_stays_light() -> None:
    script = (
        "import sys, ecom_assets.ask;"
        "print([name for name in ('dagster', 'mlflow', 'sklearn') if name in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_the_command_runs_in_a_fresh_process(lake: Path) -> None:
    script = "import sys; from ecom_assets.ask import main; sys.exit(main(sys.argv[1:]))"
    result = subprocess.run(
        [sys.executable, "-c", script, "--lake-root", str(lake), "--json", "top five best sellers"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["rows"]) == 5
