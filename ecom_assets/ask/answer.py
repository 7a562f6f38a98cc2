"""The answer: what was understood, the SQL, the rows, and one plain sentence about them.

`describe_plan` turns a plan into the interpretation shown to the user ("top 5 products by
predicted revenue"); `summarize` turns the result frame into the answer sentence, formatting
money, percentages, counts and ratings the way the model says.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

from ecom_assets.ask.model import SemanticModel
from ecom_assets.ask.plan import Filter, QueryPlan

_OP_WORDS = {
    "=": "is",
    "!=": "is not",
    "<": "below",
    "<=": "at most",
    ">": "above",
    ">=": "at least",
    "in": "is one of",
    "not in": "is not one of",
}
_AGG_WORDS = {
    "sum": "total",
    "avg": "average",
    "median": "median",
    "min": "minimum",
    "max": "maximum",
}
_LISTED = 5


@dataclass(frozen=True)
class Answer:
    """An answer to one question, with the SQL that produced its rows."""

    question: str
    interpretation: str
    sql: str | None
    columns: list[str]
    rows: list[list[Any]]
    answer: str
    source: str
    understood: bool = True
    suggestions: list[str] = field(default_factory=list)
    refused: bool = False

    def to_json(self) -> dict[str, Any]:
        """The answer as plain JSON values (dates as ISO strings, no NaN)."""
        return {
            "question": self.question,
            "interpretation": self.interpretation,
            "sql": self.sql,
            "columns": self.columns,
            "rows": [[_json_value(value) for value in row] for row in self.rows],
            "answer": self.answer,
            "source": self.source,
            "understood": self.understood,
            "suggestions": self.suggestions,
        }


def _json_value(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def format_value(value: Any, fmt: str | None) -> str:
    """A value for a sentence: money `12,345`, percent `+4.2%`, rating `4.25`, number `1,234`."""
    if value is None:
        return "n/a"
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, int | float) or isinstance(value, bool):
        return str(value)
    if fmt == "percent":
        return f"{value:,.1f}%"
    if fmt == "rating":
        return f"{value:.2f}"
    if fmt == "money":
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


def column_formats(plan: QueryPlan, model: SemanticModel) -> dict[str, str]:
    """Output column name -> format, for the plan's metrics under their output names."""
    table = plan.table or ""
    formats: dict[str, str] = {}
    for metric in model.metrics.values():
        if table in metric.tables():
            formats[metric.name] = metric.format
            formats[metric.alias(table, plan.aggregation)] = metric.format
    return formats


def _value_text(value: Any) -> str:
    if isinstance(value, tuple | list):
        return " or ".join(_value_text(item) for item in value)
    return value.isoformat() if isinstance(value, date) else str(value)


def _plain_number(value: Any, fmt: str) -> str:
    if not isinstance(value, int | float):
        return str(value)
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{text}%" if fmt == "percent" else text


def describe_filter(item: Filter, model: SemanticModel) -> str:
    """A filter in words: `category is Electronics`, `average rating below 3.5`."""
    label = model.label(item.column)
    if item.column in model.metrics:
        fmt = model.metrics[item.column].format
        values = item.value if isinstance(item.value, tuple | list) else (item.value,)
        text = " or ".join(_plain_number(value, fmt) for value in values)
        op = _OP_WORDS[item.op]
        return f"{label} {op if op.startswith('is') else 'is ' + op} {text}"
    op = "is" if item.op == "in" else _OP_WORDS[item.op].replace(" one of", "")
    return f"{label} {op} {_value_text(item.value)}"


def _subject(plan: QueryPlan, model: SemanticModel, singular: bool = False) -> str:
    dims = list(plan.group_by)
    entity = dims[0] if dims and plan.operation in ("top", "bottom", "list") else None
    if entity is None:
        spec = model.tables.get(plan.table or "")
        grain = spec.grain if spec is not None else ("product",)
        entity = next((dim for dim in grain if not model.dimensions[dim].time), "product")
    dimension = model.dimensions[entity]
    return dimension.label if singular else dimension.plural


def single_valued(plan: QueryPlan) -> set[str]:
    """Dimensions filtered to exactly one value (grouping by them only labels the number)."""
    return {
        item.column
        for item in plan.filters
        if item.op == "=" and not isinstance(item.value, tuple | list)
    }


def _metric_words(name: str, plan: QueryPlan, model: SemanticModel) -> str:
    metric = model.metrics[name]
    aggregation = metric.effective_aggregation(plan.table or "", plan.aggregation)
    word = _AGG_WORDS.get(aggregation, "")
    if plan.table in metric.aggregate_sql or not word or metric.label.startswith(word):
        return metric.label
    if word == "total" and (
        metric.label.startswith(("units", "orders", "reviews")) or metric.format == "percent"
    ):
        return metric.label
    return f"{word} {metric.label}"


def describe_plan(plan: QueryPlan, model: SemanticModel) -> str:
    """The plan in words, e.g. `top 5 products by predicted revenue (from product_decisions)`."""
    where = [describe_filter(item, model) for item in plan.filters]
    where_text = f" where {' and '.join(where)}" if where else ""
    fixed = single_valued(plan)
    by = [
        model.dimensions[dim].label
        for dim in plan.group_by
        if dim in model.dimensions and dim not in fixed
    ]
    by_text = f" by {' and '.join(by)}" if by else ""
    subject = _subject(plan, model)
    first = plan.order[0] if plan.order else None
    first_label = model.label(first.column) if first else ""
    if plan.operation in ("top", "bottom") and first is not None:
        word = "highest" if first.descending else "lowest"
        if plan.limit == 1:
            subject, count = _subject(plan, model, singular=True), ""
        else:
            count = f"{plan.limit} " if plan.limit else ""
        text = f"the {count}{subject} with the {word} {first_label}{where_text}"
    elif plan.operation == "list":
        order = ""
        if first is not None:
            order = f", {'highest' if first.descending else 'lowest'} {first_label} first"
        text = f"{subject}{where_text}{order}"
    elif plan.operation == "count":
        text = f"number of {subject}{by_text}{where_text}"
    elif plan.operation == "compare":
        text = f"revenue last period vs predicted revenue{by_text}{where_text}"
    elif plan.operation == "detail":
        named = plan.filter_on("product")
        if named is not None and named.op in ("=", "in") and len(plan.filters) == 1:
            text = f"facts and recommended action for {_value_text(named.value)}"
        else:
            text = f"facts and recommended action for {subject}{where_text}"
    else:
        metrics = " and ".join(_metric_words(name, plan, model) for name in plan.metrics)
        text = f"{metrics}{by_text}{where_text}"
    return f"{text} (from {plan.table})"


def _names(frame: pl.DataFrame, column: str, formats: dict[str, str], value: str | None) -> str:
    shown = frame.head(_LISTED)
    labels = [_value_text(value) for value in shown[column].to_list()]
    if value is not None:
        numbers = [format_value(item, formats.get(value)) for item in shown[value].to_list()]
        labels = [f"{label} ({number})" for label, number in zip(labels, numbers, strict=True)]
    more = frame.height - shown.height
    return ", ".join(labels) + (f" and {more} more" if more > 0 else "")


def summarize(plan: QueryPlan, model: SemanticModel, frame: pl.DataFrame) -> str:
    """One sentence about a result, e.g. `Top 5 products by predicted revenue: A (1,234), ...`."""
    if frame.height == 0:
        return "No rows match this question."
    formats = column_formats(plan, model)
    dims = [name for name in frame.columns if name not in formats]
    values = [name for name in frame.columns if name in formats]
    label = dims[0] if dims else None
    first_value = values[0] if values else None
    if plan.operation == "detail" and "recommended_action" in frame.columns:
        return _detail_sentence(frame, formats)
    if plan.operation == "compare":
        return _compare_sentence(frame, formats, label)
    described = describe_plan(plan, model).rsplit(" (from", 1)[0]
    described = described[0].upper() + described[1:]
    if label is None:
        numbers = [format_value(frame[name][0], formats.get(name)) for name in values]
        return f"{described}: {', '.join(numbers)}."
    if plan.operation == "timeseries" and first_value is not None and len(dims) == 1:
        return _series_sentence(frame, formats, label, first_value, model)
    labels_only = set(dims) <= {
        model.dimensions[name].output for name in single_valued(plan) if name in model.dimensions
    }
    if frame.height == 1 and labels_only and plan.operation in ("aggregate", "count"):
        numbers = [format_value(frame[name][0], formats.get(name)) for name in values]
        return f"{described}: {', '.join(numbers)}."
    if frame.height == 1 and first_value is not None and plan.operation not in ("list",):
        return f"{described}: {_names(frame, label, formats, first_value)}."
    if plan.operation == "list":
        noun = "row" if frame.height == 1 else "rows"
        return f"{frame.height} {noun} match: {_names(frame, label, formats, None)}."
    return f"{described}: {_names(frame, label, formats, first_value)}."


def _metric_of(alias: str, model: SemanticModel) -> str:
    for name in model.metrics:
        if alias == name or alias.endswith(f"_{name}"):
            return name
    return alias


def _detail_sentence(frame: pl.DataFrame, formats: dict[str, str]) -> str:
    row = frame.row(0, named=True)
    text = (
        f"{row['product_name']} ({row['category']}, {row['performance_bucket']} bucket): "
        f"{row['recommended_action']}. {row['action_reason']}"
    )
    if frame.height > 1:
        text += f" ({frame.height - 1} more products match; see the table.)"
    return text


def _compare_sentence(frame: pl.DataFrame, formats: dict[str, str], label: str | None) -> str:
    rows = frame.head(_LISTED).to_dicts()
    parts = []
    for row in rows:
        name = f"{row[label]}: " if label else ""
        parts.append(
            f"{name}revenue last period {format_value(row['revenue_last_period'], 'money')}, "
            f"predicted {format_value(row['predicted_revenue'], 'money')} "
            f"({format_value(row['predicted_change'], 'money')}, "
            f"{format_value(row['predicted_change_pct'], 'percent')})"
        )
    more = frame.height - len(rows)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "") + "."


def _series_sentence(
    frame: pl.DataFrame, formats: dict[str, str], label: str, value: str, model: SemanticModel
) -> str:
    fmt = formats.get(value)
    total = frame[value].sum()
    best = frame.sort(value, descending=True, nulls_last=True).row(0, named=True)
    worst = frame.sort(value, nulls_last=True).row(0, named=True)
    first, last = frame[label][0], frame[label][-1]
    return (
        f"{model.label(_metric_of(value, model)).capitalize()} over {frame.height} {label}s from "
        f"{_value_text(first)} to {_value_text(last)}: "
        f"{format_value(total, fmt)} in all; highest {_value_text(best[label])} "
        f"({format_value(best[value], fmt)}), lowest {_value_text(worst[label])} "
        f"({format_value(worst[value], fmt)})."
    )
