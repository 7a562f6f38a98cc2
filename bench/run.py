"""Benchmark of the whole graph through Dagster, exactly as `make run` runs it.

For each size: generate the data set once (cached under bench/.cache), run
`dagster job execute -m ecom_assets -j ecommerce_pipeline` in a fresh lake, Dagster instance and
MLflow store `--repeats` times, and record the wall time, the run time and per-asset times from
the Dagster event log, and the peak memory of the run's process. Then, unless
`--no-incremental`, time the incremental load of a daily file (the last 0.5% of the lines) on
top of the loaded history. Writes bench/results.md and bench/scaling.png. A benchmark, not a
test: nothing in `make test` depends on timings.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "bench" / ".cache"
BIN = Path(sys.executable).parent
DAILY_SHARE = 0.005


@dataclass
class Measurement:
    """One run of the graph on one size."""

    rows: int
    wall_s: float
    run_s: float
    peak_mb: float
    steps_s: dict[str, float] = field(default_factory=dict)


def dataset(rows: int) -> Path:
    """The generated landing folder for `rows`, created once and reused."""
    from ecom_assets.generate import generate_orders

    folder = CACHE / f"raw_{rows}"
    target = folder / f"orders_{rows}_seed42.csv"
    if not target.exists():
        generate_orders(target, rows=rows, progress=rows >= 1_000_000)
    return folder


def _step_times(home: Path) -> tuple[float, dict[str, float]]:
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        (run,) = instance.get_run_records(limit=1)
        records = instance.get_records_for_run(run.dagster_run.run_id, limit=100_000).records
    started: dict[str, float] = {}
    steps: dict[str, float] = {}
    run_bounds: list[float] = []
    for record in records:
        entry = record.event_log_entry
        event = entry.dagster_event
        if event is None:
            continue
        kind = event.event_type
        if kind in (dg.DagsterEventType.RUN_START, dg.DagsterEventType.RUN_SUCCESS):
            run_bounds.append(entry.timestamp)
        elif kind == dg.DagsterEventType.STEP_START and event.step_key:
            started[event.step_key] = entry.timestamp
        elif kind == dg.DagsterEventType.STEP_SUCCESS and event.step_key:
            steps[event.step_key] = entry.timestamp - started[event.step_key]
    return max(run_bounds) - min(run_bounds), steps


def _peak_rss_kb(pid: int) -> int:
    """The process's peak resident set so far (VmHWM), 0 once it has gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return next(
        (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM")), 0
    )


def _run_graph(rows: int, work: Path, raw: Path) -> Measurement:
    """Run the graph once with the lake, Dagster instance and MLflow store under `work`."""
    home = work / "dagster_home"
    if not home.exists():
        home.mkdir(parents=True)
        shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        "ECOM_RAW_DIR": str(raw),
        "ECOM_LAKE_ROOT": str(work / "lake"),
        "DAGSTER_HOME": str(home),
        "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}",
        "ECOM_MLFLOW_ARTIFACTS": str(work / "artifacts"),
    }
    command = [str(BIN / "dagster"), "job", "execute", "-m", "ecom_assets"]
    log = work / "run.log"
    start = time.perf_counter()
    with log.open("w") as output:
        process = subprocess.Popen(
            [*command, "-j", "ecommerce_pipeline"],
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        peak_kb = 0
        while process.poll() is None:
            peak_kb = max(peak_kb, _peak_rss_kb(process.pid))
            time.sleep(0.02)
    wall = time.perf_counter() - start
    if process.returncode != 0:
        tail = log.read_text()[-4000:]
        raise RuntimeError(f"the run on {rows} rows failed:\n{tail}")
    run_s, steps = _step_times(home)
    return Measurement(rows, wall, run_s, peak_kb / 1024, steps)


def measure(rows: int, raw: Path) -> Measurement:
    """Run the graph once on `raw` in a fresh lake, instance and MLflow store."""
    with tempfile.TemporaryDirectory(prefix="ecom-bench-") as scratch:
        return _run_graph(rows, Path(scratch), raw)


def daily_split(rows: int, raw: Path) -> tuple[Path, Path]:
    """(history folder, daily file): the first 99.5% of the export's lines, and the rest as the
    next export to land (the generator writes lines in date order), created once and reused."""
    folder = CACHE / f"split_{rows}"
    history, daily = folder / "history" / "orders_history.csv", folder / "orders_daily.csv"
    if not daily.exists():
        (source,) = raw.glob("*.csv")
        with source.open("rb") as lines:
            total = sum(1 for _ in lines) - 1
        cut = total - round(total * DAILY_SHARE)
        history.parent.mkdir(parents=True, exist_ok=True)
        with source.open("rb") as lines, history.open("wb") as old, daily.open("wb") as new:
            header = next(lines)
            old.write(header)
            new.write(header)
            for number, line in enumerate(lines):
                (old if number < cut else new).write(line)
    return history.parent, daily


def measure_incremental(rows: int, raw: Path, repeats: int) -> list[Measurement]:
    """Load the history once, then `repeats` times: copy that state and time the run that
    ingests the daily file on top of it."""
    history, daily = daily_split(rows, raw)
    with tempfile.TemporaryDirectory(prefix="ecom-bench-history-") as scratch:
        loaded = Path(scratch) / "state"
        _run_graph(rows, loaded, history)
        landing = Path(scratch) / "raw"
        landing.mkdir()
        for export in (*history.glob("*.csv"), daily):
            (landing / export.name).symlink_to(export)
        measurements = []
        for _ in range(repeats):
            with tempfile.TemporaryDirectory(prefix="ecom-bench-daily-") as copy:
                work = Path(copy) / "state"
                shutil.copytree(loaded, work, symlinks=True)
                measurements.append(_run_graph(rows, work, landing))
        return measurements


def _machine() -> str:
    memory_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return f"{os.cpu_count()} cores, {memory_kb / 1024**2:.0f} GiB, {platform.platform()}"


def _median(values: list[float]) -> float:
    return statistics.median(values)


GOALS = {200_000: (10.0, None), 1_000_000: (8.0, None), 10_000_000: (20.0, 3.0)}


def _goal(rows: int, wall: float, peak_gb: float) -> str:
    if rows not in GOALS:
        return ""
    seconds, gigabytes = GOALS[rows]
    verdicts = [
        f"< {seconds:.0f} s: " + ("met" if wall < seconds else f"missed by {wall - seconds:.1f} s")
    ]
    if gigabytes is not None:
        verdicts.append(
            f"< {gigabytes:.0f} GB: "
            + ("met" if peak_gb < gigabytes else f"missed by {peak_gb - gigabytes:.1f} GB")
        )
    return "; ".join(verdicts)


def _step_table(columns: dict[str, list[Measurement]]) -> list[str]:
    steps = sorted({step for runs in columns.values() for m in runs for step in m.steps_s})
    lines = ["| step | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for step in steps:
        cells = [
            f"{_median([m.steps_s.get(step, 0.0) for m in runs]):.2f}" for runs in columns.values()
        ]
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    return lines


def report(
    results: dict[int, list[Measurement]],
    incremental: dict[int, list[Measurement]],
    repeats: int,
) -> str:
    """The markdown results: totals per size against the goals, the incremental loads, then
    per-asset medians."""
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {_machine()}. Command: `make bench ROWS={','.join(map(str, results))}`; "
        f"medians of {repeats} runs. Wall = `dagster job execute` start to exit; run = RUN_START "
        "to RUN_SUCCESS in the event log; peak memory = the largest resident set of the run's "
        "process (VmHWM, the highest of the runs). Every full run starts from an empty lake, "
        "Dagster instance and MLflow store.",
        "",
        "| order lines | wall | run | peak memory | rows per second (wall) | goal |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for rows, runs in results.items():
        wall = _median([m.wall_s for m in runs])
        peak_gb = max(m.peak_mb for m in runs) / 1024
        lines.append(
            f"| {rows:,} | {wall:.1f} s | {_median([m.run_s for m in runs]):.1f} s | "
            f"{peak_gb:.2f} GB | {rows / wall:,.0f} | {_goal(rows, wall, peak_gb)} |"
        )
    if incremental:
        lines += [
            "",
            f"Incremental load: the history ({100 - DAILY_SHARE * 100:.1f}% of the lines) is "
            f"loaded once, then a daily export of the last {DAILY_SHARE:.1%} lands and the same "
            "job runs (bronze reads only the new file, silver merges its lines); ratio = that "
            "run's wall time over the full run's above (goal: under 0.25).",
            "",
            "| order lines | full run | incremental run | ratio | peak memory |",
            "|---:|---:|---:|---:|---:|",
        ]
        for rows, runs in incremental.items():
            wall = _median([m.wall_s for m in runs])
            full = _median([m.wall_s for m in results[rows]])
            lines.append(
                f"| {rows:,} | {full:.1f} s | {wall:.1f} s | {wall / full:.2f} | "
                f"{max(m.peak_mb for m in runs) / 1024:.2f} GB |"
            )
    columns = {f"{rows:,}": runs for rows, runs in results.items()}
    columns |= {f"{rows:,} incremental": runs for rows, runs in incremental.items()}
    lines += ["", "Per step, median seconds:", "", *_step_table(columns)]
    return "\n".join(lines) + "\n"


def plot(
    results: dict[int, list[Measurement]], incremental: dict[int, list[Measurement]], path: Path
) -> None:
    """Wall and run time against rows, on log-log axes: a straight line of slope 1 is linear."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4))
    axes = figure.subplots()
    series = [("full run, wall", results, "wall_s"), ("full run, run", results, "run_s")]
    if incremental:
        series.append(("incremental 0.5%, wall", incremental, "wall_s"))
    for label, measured, attribute in series:
        sizes = list(measured)
        values = [_median([getattr(m, attribute) for m in measured[s]]) for s in sizes]
        axes.plot(sizes, values, marker="o", label=label)
    axes.set(xscale="log", yscale="log", xlabel="order lines", ylabel="seconds")
    axes.set_title("ecommerce_pipeline: time against rows")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", default="200000,1000000", help="comma-separated sizes")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(REPO / "bench"))
    parser.add_argument(
        "--no-incremental", action="store_true", help="skip the incremental-load runs"
    )
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.rows.split(","))
    results: dict[int, list[Measurement]] = {}
    incremental: dict[int, list[Measurement]] = {}
    for rows in sizes:
        raw = dataset(rows)
        results[rows] = []
        for attempt in range(args.repeats):
            measurement = measure(rows, raw)
            print(
                f"{rows:,} rows, run {attempt + 1}: {measurement.wall_s:.1f} s wall, "
                f"{measurement.run_s:.1f} s run, {measurement.peak_mb:.0f} MB",
                flush=True,
            )
            results[rows].append(measurement)
        if not args.no_incremental:
            incremental[rows] = measure_incremental(rows, raw, args.repeats)
            walls = ", ".join(f"{m.wall_s:.1f} s" for m in incremental[rows])
            print(f"{rows:,} rows, incremental runs: {walls}", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(report(results, incremental, args.repeats))
    plot(results, incremental, out / "scaling.png")
    print(f"wrote {out / 'results.md'} and {out / 'scaling.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
