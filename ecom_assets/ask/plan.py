"""The typed query plan: what a question asks for, before it becomes SQL.

A plan names things by the semantic model's words (metric and dimension names such as
`predicted_revenue`, `category`, `bucket`), never by SQL, so the rules parser, the verified
templates and an optional language model all produce the same kind of object, and one compiler
and one validator stand between any of them and the data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any

OPERATIONS = ("list", "top", "bottom", "aggregate", "count", "compare", "detail", "timeseries")
OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "in", "not in")
AGGREGATIONS = ("sum", "avg", "min", "max", "median", "count")
PLAN_KEYS = (
    "operation",
    "table",
    "metrics",
    "group_by",
    "filters",
    "order",
    "limit",
    "aggregation",
    "columns",
)


class PlanError(ValueError):
    """A plan that cannot be answered; the message says why in plain words."""


@dataclass(frozen=True)
class Filter:
    """One condition: `column` is a dimension or metric name; `on_aggregate` filters groups."""

    column: str
    op: str
    value: Any
    on_aggregate: bool = False


@dataclass(frozen=True)
class Order:
    """One sort key: a metric, a dimension or an output column such as `products`."""

    column: str
    descending: bool = True


@dataclass(frozen=True)
class QueryPlan:
    """What to compute: the operation over one table with metrics, groups, filters and order."""

    operation: str
    table: str | None = None
    metrics: tuple[str, ...] = ()
    group_by: tuple[str, ...] = ()
    filters: tuple[Filter, ...] = ()
    order: tuple[Order, ...] = ()
    limit: int | None = None
    aggregation: str | None = None
    columns: tuple[str, ...] = field(default=())

    def with_changes(self, **changes: Any) -> QueryPlan:
        """A copy of the plan with some fields replaced."""
        return replace(self, **changes)

    def filter_on(self, column: str) -> Filter | None:
        """The first filter on a column, if any."""
        return next((item for item in self.filters if item.column == column), None)


def _strings(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise PlanError(f"plan field {key!r} must be a list of names")
    return tuple(value)


def _filter(data: Any) -> Filter:
    if isinstance(data, list | tuple) and len(data) == 3:
        data = {"column": data[0], "op": data[1], "value": data[2]}
    if not isinstance(data, Mapping) or not {"column", "op", "value"} <= set(data):
        raise PlanError("a filter needs a column, an op and a value")
    column, op, value = data["column"], str(data["op"]).lower(), data["value"]
    if not isinstance(column, str):
        raise PlanError("a filter's column must be a name")
    if op not in OPERATORS:
        raise PlanError(f"unknown filter operator {op!r}; use one of {', '.join(OPERATORS)}")
    scalar = str | int | float | date
    if isinstance(value, list):
        if not value or not all(isinstance(item, scalar) for item in value):
            raise PlanError(f"the filter on {column!r} needs a list of plain values")
        value = tuple(value)
    elif not isinstance(value, scalar) or isinstance(value, bool):
        raise PlanError(f"the filter on {column!r} needs a plain value")
    return Filter(column, op, value, bool(data.get("on_aggregate", False)))


def _order(data: Any) -> Order:
    if isinstance(data, str):
        return Order(data)
    if isinstance(data, list | tuple) and len(data) == 2:
        return Order(str(data[0]), str(data[1]).lower() in ("desc", "descending", "true"))
    if not isinstance(data, Mapping) or not isinstance(data.get("column"), str):
        raise PlanError("an order entry needs a column")
    descending = data.get("descending", data.get("direction", "desc"))
    if isinstance(descending, str):
        descending = descending.lower() in ("desc", "descending", "true")
    return Order(data["column"], bool(descending))


def plan_from_dict(data: Any) -> QueryPlan:
    """A plan from its JSON form (templates, language model answers); raises PlanError."""
    if not isinstance(data, Mapping):
        raise PlanError("a plan must be a JSON object")
    unknown = sorted(set(data) - set(PLAN_KEYS))
    if unknown:
        raise PlanError(f"unknown plan fields: {', '.join(unknown)}")
    operation = data.get("operation")
    if operation not in OPERATIONS:
        raise PlanError(f"unknown operation {operation!r}; use one of {', '.join(OPERATIONS)}")
    table = data.get("table")
    if table is not None and not isinstance(table, str):
        raise PlanError("plan field 'table' must be a name")
    limit = data.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise PlanError("plan field 'limit' must be a positive whole number")
    aggregation = data.get("aggregation")
    if aggregation is not None and aggregation not in AGGREGATIONS:
        raise PlanError(f"unknown aggregation {aggregation!r}")
    filters, order = data.get("filters") or [], data.get("order") or []
    if not isinstance(filters, list) or not isinstance(order, list):
        raise PlanError("plan fields 'filters' and 'order' must be lists")
    return QueryPlan(
        operation=operation,
        table=table,
        metrics=_strings(data, "metrics"),
        group_by=_strings(data, "group_by"),
        filters=tuple(_filter(item) for item in filters),
        order=tuple(_order(item) for item in order),
        limit=limit,
        aggregation=aggregation,
        columns=_strings(data, "columns"),
    )


def plan_to_dict(plan: QueryPlan) -> dict[str, Any]:
    """The JSON form of a plan (dates as ISO strings, tuples as lists)."""

    def plain(value: Any) -> Any:
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, tuple | list):
            return [plain(item) for item in value]
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        return value

    return {key: plain(value) for key, value in asdict(plan).items()}
