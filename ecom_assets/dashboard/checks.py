"""The latest result of every asset check, read from the Dagster instance in `DAGSTER_HOME`.

Optional for the dashboard: without `DAGSTER_HOME` (or without any run in it) the Data quality
page shows the rejected rows only. Dagster is imported only when this is called.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import streamlit as st

RUNS_LOOKED_AT = 20
CHECK_SCHEMA: dict[str, pl.DataType] = {
    "asset": pl.String(),
    "check": pl.String(),
    "passed": pl.Boolean(),
    "severity": pl.String(),
    "description": pl.String(),
    "evaluated_at": pl.Datetime("us", "UTC"),
    "run_id": pl.String(),
}


def dagster_home() -> str | None:
    """The instance folder named by `DAGSTER_HOME`, when it is set and holds a `dagster.yaml`."""
    home = os.environ.get("DAGSTER_HOME")
    if home and (Path(home) / "dagster.yaml").is_file():
        return str(Path(home).resolve())
    return None


@st.cache_data(show_spinner=False, ttl=30)
def latest_check_results(home: str, runs: int = RUNS_LOOKED_AT) -> pl.DataFrame:
    """The newest evaluation of each asset check over the instance's latest `runs` runs,
    failures first (CHECK_SCHEMA columns)."""
    import dagster as dg

    newest: dict[tuple[str, str], dict[str, object]] = {}
    with dg.DagsterInstance.from_config(home) as instance:
        for run in instance.get_runs(limit=runs):
            entries = instance.all_logs(
                run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
            )
            for entry in reversed(entries):
                event = entry.dagster_event
                if event is None:
                    continue
                result = event.asset_check_evaluation_data
                key = (result.asset_key.to_user_string(), result.check_name)
                if key not in newest:
                    newest[key] = {
                        "asset": key[0],
                        "check": key[1],
                        "passed": result.passed,
                        "severity": result.severity.value,
                        "description": result.description,
                        "evaluated_at": datetime.fromtimestamp(entry.timestamp, UTC),
                        "run_id": entry.run_id,
                    }
    return pl.DataFrame(list(newest.values()), schema=CHECK_SCHEMA).sort("passed", "asset", "check")
