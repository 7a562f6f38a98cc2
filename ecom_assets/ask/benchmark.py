"""The benchmark: ask every question of `benchmark.yaml` and check the rows against Polars.

`run_benchmark(asker)` works on any data set: placeholders (`{category}`, `{product}`, `{year}`)
take values from the asker's own tables, and every expectation is a small declarative recipe
(filter, derive, group, aggregate, sort, limit) computed here with Polars expressions, never
with the engine's parser, compiler or SQL. It returns how many answers were right and why the
others were not, for a test or a Dagster asset check. `python -m ecom_assets.ask.benchmark`
runs it on the lake's tables and prints how long the answers took.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import yaml

if TYPE_CHECKING:
    from ecom_assets.ask.answer import Answer
    from ecom_assets.ask.engine import Asker

BENCHMARK_PATH = Path(__file__).resolve().parent / "benchmark.yaml"
TOLERANCE = 1e-6
_PLACEHOLDER = re.compile(r"\{(\w+)(?:-(\d+))?(?:\|(\w+))?\}")
_OPERATORS = {
    "==": lambda column, value: column == value,
    "!=": lambda column, value: column != value,
    "<": lambda column, value: column < value,
    "<=": lambda column, value: column <= value,
    ">": lambda column, value: column > value,
    ">=": lambda column, value: column >= value,
    "in": lambda column, value: column.is_in(list(value)),
}
_AGGREGATIONS = {
    "sum": lambda column: pl.col(column).sum(),
    "mean": lambda column: pl.col(column).mean(),
    "count": lambda column: pl.col(column).count().cast(pl.Int64),
}


class BenchmarkError(ValueError):
    """A benchmark entry that cannot be evaluated on this data (e.g. no value for a slot)."""


@dataclass(frozen=True)
class BenchmarkFailure:
    """One question answered wrongly, and how."""

    id: str
    question: str
    reason: str


@dataclass(frozen=True)
class BenchmarkResult:
    """How many benchmark questions were answered right."""

    total: int
    correct: int
    failures: list[BenchmarkFailure] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        """The share of questions answered right (1.0 when there are none)."""
        return self.correct / self.total if self.total else 1.0


def load_benchmark(path: Path | None = None) -> dict[str, Any]:
    """The parsed benchmark file (the packaged one by default)."""
    with (path or BENCHMARK_PATH).open(encoding="utf-8") as handle:
        data: dict[str, Any] = yaml.safe_load(handle)
    return data


def _months_before(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


def slot_values(spec: Mapping[str, Any], frames: Mapping[str, pl.DataFrame]) -> dict[str, Any]:
    """The value of every placeholder on these tables: the default if present, else a pick."""
    decisions = frames.get("product_decisions")
    monthly = frames.get("monthly_sales")
    values: dict[str, Any] = {}
    if decisions is not None and decisions.height:
        by_size = decisions.group_by("category").len()
        values["category"] = _default_or(
            spec.get("category", {}).get("default"),
            decisions["category"],
            by_size.sort(["len", "category"], descending=[True, False])["category"][0],
        )
        by_forecast = decisions.sort(
            ["predicted_revenue", "product_name"], descending=[True, False]
        )
        values["product"] = _default_or(
            spec.get("product", {}).get("default"),
            decisions["product_name"],
            by_forecast["product_name"][0],
        )
    if monthly is not None and monthly.height:
        months = monthly.select(pl.col("month").unique())
        full_years = (
            months.group_by(pl.col("month").dt.year().alias("year"))
            .len()
            .filter(pl.col("len") == 12)["year"]
            .to_list()
        )
        wanted = spec.get("year", {}).get("default")
        latest = monthly["month"].max()
        if wanted in full_years:
            values["year"] = wanted
        else:
            values["year"] = max(full_years) if full_years else getattr(latest, "year", None)
        values["previous_year"] = values["year"] - 1 if values["year"] else None
        values["latest_month"] = latest
    return values


def _default_or(default: Any, present: pl.Series, pick: Any) -> Any:
    return default if default is not None and present.eq(default).any() else pick


def _text(value: Any, form: str | None) -> str:
    text = str(value)
    if form == "lower":
        return text.lower()
    if form == "typo":
        return text.lower()[:-1] if len(text) > 4 else text.lower()
    if form == "short":
        words = text.lower().split()
        return f"{words[0]} {words[-1]}" if len(words) > 2 else text.lower()
    return text


def fill_question(question: str, values: Mapping[str, Any]) -> str:
    """A question with its placeholders replaced by values (`{category|typo}` -> `electronic`)."""

    def replace(match: re.Match[str]) -> str:
        value = _slot(match, values)
        return _text(value, match.group(3))

    return _PLACEHOLDER.sub(replace, question)


def _slot(match: re.Match[str], values: Mapping[str, Any]) -> Any:
    name, back = match.group(1), match.group(2)
    if values.get(name) is None:
        raise BenchmarkError(f"the data has no value for {{{name}}}")
    value = values[name]
    if back:
        value = _months_before(value, int(back))
    return value


def _value(raw: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(raw, list):
        return [_value(item, values) for item in raw]
    if isinstance(raw, str) and (match := _PLACEHOLDER.fullmatch(raw)):
        return _slot(match, values)
    return raw


def expected_frame(
    expect: Mapping[str, Any], frames: Mapping[str, pl.DataFrame], values: Mapping[str, Any]
) -> pl.DataFrame:
    """The right rows for an expectation, computed with Polars from the tables."""
    frame = frames[expect["table"]].lazy()
    for name, (operation, *arguments) in (expect.get("derive") or {}).items():
        if operation == "sub":
            frame = frame.with_columns((pl.col(arguments[0]) - pl.col(arguments[1])).alias(name))
        elif operation == "year":
            frame = frame.with_columns(pl.col(arguments[0]).dt.year().alias(name))
        else:
            raise BenchmarkError(f"unknown derive operation {operation!r}")
    for column, op, raw in expect.get("where") or []:
        frame = frame.filter(_OPERATORS[op](pl.col(column), _value(raw, values)))
    aggregates = [
        _AGGREGATIONS[function](column).alias(name)
        for name, (function, column) in (expect.get("aggregate") or {}).items()
    ]
    if expect.get("group_by"):
        frame = frame.group_by(expect["group_by"]).agg(aggregates)
    elif aggregates:
        frame = frame.select(aggregates)
    if expect.get("sort"):
        columns = [column for column, _ in expect["sort"]]
        descending = [direction == "desc" for _, direction in expect["sort"]]
        frame = frame.sort(columns, descending=descending, nulls_last=True)
    if expect.get("limit"):
        frame = frame.head(int(expect["limit"]))
    return frame.collect()


def answer_frame(answer: Answer) -> pl.DataFrame:
    """An answer's rows as a frame (no type inference surprises: built column by column)."""
    if not answer.columns:
        return pl.DataFrame()
    return pl.DataFrame(answer.rows, schema=answer.columns, orient="row", infer_schema_length=None)


def compare_frames(
    actual: pl.DataFrame, expected: pl.DataFrame, columns: Sequence[str], ordered: bool
) -> str | None:
    """Why two frames differ on some columns (floats within a tolerance), or None if equal."""
    missing = [column for column in columns if column not in actual.columns]
    if missing:
        return f"the answer has no column {', '.join(missing)} (it has {actual.columns})"
    if actual.height != expected.height:
        return f"{actual.height} rows, expected {expected.height}"
    actual, expected = actual.select(columns), expected.select(columns)
    if not ordered:
        actual = actual.sort(columns, nulls_last=True)
        expected = expected.sort(columns, nulls_last=True)
    for column in columns:
        left, right = actual[column], expected[column]
        if left.dtype.is_numeric() and right.dtype.is_numeric():
            scale = right.cast(pl.Float64).abs().clip(lower_bound=1.0)
            difference = (left.cast(pl.Float64) - right.cast(pl.Float64)).abs()
            same = ((difference <= scale * TOLERANCE) | (left.is_null() & right.is_null())).all()
        else:
            same = left.cast(pl.String).eq_missing(right.cast(pl.String)).all()
        if not same:
            got, wanted = left.head(5).to_list(), right.head(5).to_list()
            return f"column {column} differs: got {got}, expected {wanted}"
    return None


def check_answer(
    answer: Answer,
    expect: Mapping[str, Any],
    frames: Mapping[str, pl.DataFrame],
    values: Mapping[str, Any],
) -> str | None:
    """Why an answer does not meet its expectation, or None when it does."""
    if expect.get("refused"):
        return None if answer.refused else "expected a refusal"
    if expect.get("understood") is False:
        return None if not answer.understood and not answer.rows else "expected 'not understood'"
    if not answer.understood:
        return f"not understood: {answer.answer}"
    if "rows" in expect and "table" not in expect:
        count = int(expect["rows"])
        return None if len(answer.rows) == count else f"{len(answer.rows)} rows, expected {count}"
    expected = expected_frame(expect, frames, values)
    columns = expect.get("columns") or expected.columns
    return compare_frames(answer_frame(answer), expected, columns, bool(expect.get("ordered")))


def run_entry(asker: Asker, entry: Mapping[str, Any], values: Mapping[str, Any]) -> Answer:
    """Ask one benchmark entry (after its `after` questions) on a fresh conversation."""
    asker.reset()
    before = entry.get("after") or []
    for question in [before] if isinstance(before, str) else before:
        asker.ask(fill_question(question, values))
    return asker.ask(fill_question(entry["question"], values))


def run_benchmark(asker: Asker, path: Path | None = None) -> BenchmarkResult:
    """Ask every benchmark question and count the answers equal to their expectation."""
    benchmark = load_benchmark(path)
    values = slot_values(benchmark.get("values") or {}, asker.frames)
    failures: list[BenchmarkFailure] = []
    entries = benchmark["questions"]
    for entry in entries:
        try:
            answer = run_entry(asker, entry, values)
            reason = check_answer(answer, entry["expect"], asker.frames, values)
        except BenchmarkError as error:
            reason = str(error)
        if reason is not None:
            failures.append(BenchmarkFailure(entry["id"], entry["question"], reason))
    asker.reset()
    return BenchmarkResult(len(entries), len(entries) - len(failures), failures)


def time_answers(asker: Asker, repeats: int = 5) -> tuple[BenchmarkResult, list[float]]:
    """The benchmark run `repeats` times, and the seconds each answer took, sorted."""
    seconds: list[float] = []
    ask = asker.ask

    def timed(question: str) -> Answer:
        start = time.perf_counter()
        try:
            return ask(question)
        finally:
            seconds.append(time.perf_counter() - start)

    asker.ask = timed  # type: ignore[method-assign]
    try:
        results = [run_benchmark(asker) for _ in range(repeats)]
    finally:
        del asker.ask
    return results[0], sorted(seconds)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m ecom_assets.ask.benchmark`: accuracy and answer times on the lake's tables."""
    from ecom_assets.ask.engine import Asker

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--lake-root", help="root of the Delta tables (default: ECOM_LAKE_ROOT)")
    parser.add_argument("--repeats", type=int, default=5, help="runs of the benchmark (5)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    asker = Asker(args.lake_root)
    loaded = time.perf_counter()
    asker.ask("SELECT COUNT(*) AS n FROM product_decisions")
    first = time.perf_counter()
    result, seconds = time_answers(asker, args.repeats)
    ms = [f"{1000 * value:.1f} ms" for value in (seconds[len(seconds) // 2], seconds[-1])]
    p95 = f"{1000 * seconds[int(0.95 * (len(seconds) - 1))]:.1f} ms"
    print(
        f"{result.correct}/{result.total} correct; engine start {loaded - start:.2f} s, first "
        f"query {1000 * (first - loaded):.0f} ms; {len(seconds)} answers: median {ms[0]}, "
        f"95th percentile {p95}, maximum {ms[1]}"
    )
    return 0 if result.correct == result.total else 1


if __name__ == "__main__":
    sys.exit(main())
