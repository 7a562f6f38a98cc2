"""The semantic model: tables, join keys, metrics, dimensions, segments, verified questions.

`load_model` reads `semantic_model.yaml` (beside this module) into frozen dataclasses. The model
holds business words and SQL snippets, never data values; the values of the tables (categories,
products, buckets, actions) are read from the data by the engine. It also holds the defaults of
the query limits: the row limit of an answer, the row budget and the time limit of a query.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from ecom_assets.ask.plan import AGGREGATIONS, Filter, Order, PlanError, plan_from_dict

MODEL_PATH = Path(__file__).resolve().parent / "semantic_model.yaml"
FORMATS = ("money", "percent", "number", "rating")
_AGG_PREFIX = {"sum": "total", "avg": "avg", "median": "median", "min": "min", "max": "max"}
_NON_ADDITIVE = ("rating", "percent")


class ModelError(ValueError):
    """A semantic model file that does not describe a usable model."""


@dataclass(frozen=True)
class TableSpec:
    """A table questions can be answered from, and the dimensions that make one row."""

    name: str
    description: str
    grain: tuple[str, ...]


@dataclass(frozen=True)
class Metric:
    """A measure: its row-level SQL per table, how it aggregates and how it reads."""

    name: str
    label: str
    format: str
    aggregation: str
    sql: Mapping[str, str]
    aggregate_sql: Mapping[str, str]
    synonyms: tuple[str, ...]

    def tables(self) -> frozenset[str]:
        """The tables the metric can be computed from."""
        return frozenset(self.sql) | frozenset(self.aggregate_sql)

    def row_sql(self, table: str) -> str | None:
        """The row-level SQL expression in a table, if the metric has one there."""
        return self.sql.get(table)

    def effective_aggregation(self, table: str, aggregation: str | None) -> str:
        """The aggregation actually used: a fixed formula, or the asked one if it makes sense."""
        if table in self.aggregate_sql or aggregation is None or aggregation == "count":
            return self.aggregation
        if aggregation == "sum" and self.format in _NON_ADDITIVE:
            return self.aggregation
        return aggregation

    def aggregate(self, table: str, aggregation: str | None = None) -> str:
        """The SQL aggregate expression of the metric in a table."""
        if table in self.aggregate_sql:
            return " ".join(self.aggregate_sql[table].split())
        function = self.effective_aggregation(table, aggregation).upper()
        return f"{function}({self.sql[table]})"

    def alias(self, table: str, aggregation: str | None = None) -> str:
        """The output column name of the aggregated metric, e.g. `total_predicted_revenue`."""
        if table in self.aggregate_sql or self.aggregation == "count":
            return self.name
        prefix = _AGG_PREFIX[self.effective_aggregation(table, aggregation)]
        return self.name if self.name.startswith(f"{prefix}_") else f"{prefix}_{self.name}"


@dataclass(frozen=True)
class Dimension:
    """Something rows are grouped or filtered by: a column (or SQL) per table and its words."""

    name: str
    label: str
    plural: str
    column: str | None
    sql: Mapping[str, str]
    tables: tuple[str, ...]
    synonyms: tuple[str, ...]
    value_phrases: tuple[str, ...]
    time: str | None

    def expression(self, table: str) -> str:
        """The SQL expression of the dimension in a table."""
        return self.sql.get(table) or self.column or self.name

    @property
    def output(self) -> str:
        """The output column name of the dimension."""
        return self.column or self.name


@dataclass(frozen=True)
class Segment:
    """A named business filter or ranking, such as `needs_discount` or `largest_drop`."""

    name: str
    label: str
    filters: tuple[Filter, ...]
    order: Order | None
    ranking: bool
    phrases: tuple[str, ...]


@dataclass(frozen=True)
class Template:
    """A verified question and the plan it means (slots in braces take values from the data)."""

    question: str
    plan: Mapping[str, Any]


@dataclass(frozen=True)
class SemanticModel:
    """Everything the engine knows about the tables' meaning."""

    tables: Mapping[str, TableSpec]
    join_keys: Mapping[str, tuple[str, ...]]
    metrics: Mapping[str, Metric]
    dimensions: Mapping[str, Dimension]
    segments: Mapping[str, Segment]
    templates: tuple[Template, ...]
    examples: tuple[str, ...]
    detail_columns: tuple[str, ...]
    compare_metrics: tuple[str, ...]
    default_metric: str
    max_rows: int
    default_top: int
    row_budget: int
    timeout_seconds: float

    def knows(self, name: str) -> bool:
        """Whether a name is a metric or a dimension."""
        return name in self.metrics or name in self.dimensions

    def available(self, name: str, table: str) -> bool:
        """Whether a metric or dimension can be used with a table."""
        if name in self.metrics:
            return table in self.metrics[name].tables()
        if name in self.dimensions:
            return table in self.dimensions[name].tables
        return False

    def label(self, name: str) -> str:
        """The business word for a metric or dimension name."""
        if name in self.metrics:
            return self.metrics[name].label
        if name in self.dimensions:
            return self.dimensions[name].label
        return name.replace("_", " ")

    def dimension_of_column(self, column: str) -> Dimension | None:
        """The dimension stored in a physical column, if any."""
        return next((dim for dim in self.dimensions.values() if dim.column == column), None)


def _words(value: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in value or [])


def _metric(name: str, spec: Mapping[str, Any]) -> Metric:
    metric = Metric(
        name=name,
        label=str(spec.get("label", name.replace("_", " "))),
        format=str(spec.get("format", "number")),
        aggregation=str(spec.get("aggregation", "sum")),
        sql=dict(spec.get("sql") or {}),
        aggregate_sql=dict(spec.get("aggregate_sql") or {}),
        synonyms=_words(spec.get("synonyms")),
    )
    if metric.format not in FORMATS:
        raise ModelError(f"metric {name}: unknown format {metric.format!r}")
    if metric.aggregation not in AGGREGATIONS:
        raise ModelError(f"metric {name}: unknown aggregation {metric.aggregation!r}")
    if not metric.tables():
        raise ModelError(f"metric {name}: no table defines it")
    return metric


def _dimension(name: str, spec: Mapping[str, Any]) -> Dimension:
    return Dimension(
        name=name,
        label=str(spec.get("label", name)),
        plural=str(spec.get("plural", f"{name}s")),
        column=spec.get("column"),
        sql=dict(spec.get("sql") or {}),
        tables=_words(spec.get("tables")),
        synonyms=_words(spec.get("synonyms")),
        value_phrases=_words(spec.get("value_phrases")),
        time=spec.get("time"),
    )


def _segment(name: str, spec: Mapping[str, Any]) -> Segment:
    order_spec = [spec["order"]] if spec.get("order") else []
    try:
        plan = plan_from_dict(
            {"operation": "list", "filters": spec.get("filters") or [], "order": order_spec}
        )
    except PlanError as error:
        raise ModelError(f"segment {name}: {error}") from error
    return Segment(
        name=name,
        label=str(spec.get("label", name.replace("_", " "))),
        filters=plan.filters,
        order=plan.order[0] if plan.order else None,
        ranking=bool(spec.get("ranking", False)),
        phrases=_words(spec.get("phrases")),
    )


def parse_model(data: Mapping[str, Any]) -> SemanticModel:
    """A semantic model from its parsed YAML; raises ModelError when it is inconsistent."""
    tables = {
        name: TableSpec(name, str(spec.get("description", "")), _words(spec.get("grain")))
        for name, spec in (data.get("tables") or {}).items()
    }
    model = SemanticModel(
        tables=tables,
        join_keys={key: _words(names) for key, names in (data.get("join_keys") or {}).items()},
        metrics={name: _metric(name, spec) for name, spec in data["metrics"].items()},
        dimensions={name: _dimension(name, spec) for name, spec in data["dimensions"].items()},
        segments={name: _segment(name, spec) for name, spec in data["segments"].items()},
        templates=tuple(
            Template(str(item["question"]), dict(item["plan"]))
            for item in data.get("templates") or []
        ),
        examples=_words(data.get("examples")),
        detail_columns=_words(data.get("detail_columns")),
        compare_metrics=_words(data.get("compare_metrics")),
        default_metric=str(data.get("default_metric", "predicted_revenue")),
        max_rows=int(data.get("max_rows", 1000)),
        default_top=int(data.get("default_top", 10)),
        row_budget=int(data.get("row_budget", 5_000_000)),
        timeout_seconds=float(data.get("timeout_seconds", 5)),
    )
    for key, names in model.join_keys.items():
        if set(names) - set(tables):
            raise ModelError(f"join key {key}: unknown tables {sorted(set(names) - set(tables))}")
    for metric in model.metrics.values():
        unknown = metric.tables() - set(tables)
        if unknown:
            raise ModelError(f"metric {metric.name}: unknown tables {sorted(unknown)}")
    for segment in model.segments.values():
        for item in segment.filters:
            if not model.knows(item.column):
                raise ModelError(f"segment {segment.name}: unknown column {item.column!r}")
    return model


@cache
def load_model(path: Path = MODEL_PATH) -> SemanticModel:
    """The semantic model from a YAML file (the packaged one by default)."""
    with path.open(encoding="utf-8") as handle:
        return parse_model(yaml.safe_load(handle))
