"""From a query plan to one SQL SELECT in the Polars SQL dialect.

`choose_table` picks the table that can answer a plan (a category-level aggregate reads
`category_metrics`, anything about months reads `monthly_sales`, the rest reads
`product_decisions` or `product_metrics`), `check_plan` refuses plans that name unknown tables,
metrics, dimensions or columns, and `compile_plan` writes the SQL. Values are always rendered
as SQL literals by sqlglot, so a value can never become SQL.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from datetime import date
from typing import Any

from sqlglot import exp

from ecom_assets.ask.model import SemanticModel
from ecom_assets.ask.plan import Filter, Order, PlanError, QueryPlan
from ecom_assets.ask.safety import PolarsSQL

ROW_OPERATIONS = ("list", "top", "bottom", "detail")
_SQL_OPERATORS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_CATEGORY_TABLE = "category_metrics"
_COUNT_METRICS = ("products", "categories")


def plan_fields(plan: QueryPlan) -> list[str]:
    """Every metric and dimension name a plan uses."""
    names = [*plan.metrics, *plan.group_by, *(item.column for item in plan.filters)]
    if plan.operation == "count":
        names.append("products")
    names.extend(item.column for item in plan.order)
    return list(dict.fromkeys(names))


def _needs(plan: QueryPlan, model: SemanticModel) -> list[str]:
    return [name for name in plan_fields(plan) if model.knows(name)]


def choose_table(
    plan: QueryPlan, model: SemanticModel, columns: Mapping[str, Collection[str]]
) -> str:
    """The table that can answer a plan; raises PlanError naming what no table has together."""
    needed = _needs(plan, model)
    candidates = [
        name
        for name in model.tables
        if name in columns and all(model.available(field, name) for field in needed)
    ]
    category_level = (
        plan.group_by == ("category",)
        and plan.operation in ("aggregate", "top", "bottom")
        and all(item.column == "category" and not item.on_aggregate for item in plan.filters)
    )
    if category_level and _CATEGORY_TABLE in candidates:
        return _CATEGORY_TABLE
    rest = [name for name in candidates if name != _CATEGORY_TABLE]
    if rest:
        return rest[0]
    if candidates:
        return candidates[0]
    labels = ", ".join(model.label(name) for name in needed) or "this question"
    raise PlanError(f"no table has {labels} together")


def check_plan(
    plan: QueryPlan, model: SemanticModel, columns: Mapping[str, Collection[str]]
) -> QueryPlan:
    """The plan with its table chosen, after checking every name; raises PlanError."""
    table = plan.table or choose_table(plan, model, columns)
    if table not in model.tables or table not in columns:
        known = ", ".join(name for name in model.tables if name in columns)
        raise PlanError(f"table {table!r} is not available; the tables are: {known}")
    for name in [*plan.metrics, *plan.group_by, *(item.column for item in plan.filters)]:
        if not model.knows(name):
            raise PlanError(f"unknown metric or dimension {name!r}")
        if not model.available(name, table):
            raise PlanError(f"{model.label(name)} is not available in {table}")
    for item in plan.filters:
        if item.column in model.metrics and not isinstance(item.value, int | float):
            raise PlanError(f"the filter on {model.label(item.column)} needs a number")
        if (
            item.column in model.metrics
            and not item.on_aggregate
            and model.metrics[item.column].row_sql(table) is None
        ):
            raise PlanError(f"{model.label(item.column)} can only filter groups")
    for name in plan.columns:
        if name not in columns[table]:
            raise PlanError(f"unknown column {name!r} in {table}")
    outputs = set(_outputs(plan.with_changes(table=table), model))
    for key in plan.order:
        if key.column not in outputs and not model.knows(key.column):
            raise PlanError(f"cannot sort by {key.column!r}")
    if plan.operation == "detail" and table != "product_decisions":
        raise PlanError("product facts and actions are only in product_decisions")
    plan = _with_defaults(plan.with_changes(table=table), model)
    if _finer_rows(plan, model):
        plan = plan.with_changes(
            filters=tuple(
                replace(item, on_aggregate=True) if item.column in model.metrics else item
                for item in plan.filters
            )
        )
    return plan


def _with_defaults(plan: QueryPlan, model: SemanticModel) -> QueryPlan:
    """A list without a measure shows the default one (or its first filtered one), sorted."""
    if plan.operation != "list" or plan.metrics:
        return plan
    table = plan.table or ""
    filtered = [item.column for item in plan.filters if item.column in model.metrics]
    candidates = [model.default_metric, *filtered]
    metric = next((name for name in candidates if model.available(name, table)), None)
    if metric is None or model.metrics[metric].row_sql(table) is None:
        return plan
    return plan.with_changes(metrics=(metric,), order=plan.order or (Order(metric),))


def _finer_rows(plan: QueryPlan, model: SemanticModel) -> bool:
    """Whether the table's rows are finer than the answer's (product-months summed by product)."""
    grain = model.tables[plan.table or ""].grain
    time_dims = [dim for dim in grain if model.dimensions[dim].time]
    return bool(time_dims) and not any(dim in plan.group_by for dim in time_dims)


def literal(value: Any) -> str:
    """A value as a SQL literal (strings quoted and escaped by sqlglot)."""
    if isinstance(value, date):
        return f"CAST('{value.isoformat()}' AS DATE)"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):
            raise PlanError("numbers must be finite")
        return exp.Literal.number(value).sql(dialect=PolarsSQL)
    return exp.Literal.string(str(value)).sql(dialect=PolarsSQL)


def _time_value(model: SemanticModel, column: str, value: Any) -> Any:
    dimension = model.dimensions.get(column)
    if dimension is None or dimension.time is None or isinstance(value, date):
        return value
    if dimension.time == "month" and isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError as error:
            raise PlanError(f"{value!r} is not a date") from error
    if dimension.time == "year" and isinstance(value, str | float):
        return int(value)
    return value


def _condition(item: Filter, expression: str, model: SemanticModel) -> str:
    values = item.value if isinstance(item.value, tuple | list) else (item.value,)
    values = tuple(_time_value(model, item.column, value) for value in values)
    op = item.op
    if op == "in" or (op == "=" and len(values) > 1):
        return f"{expression} IN ({', '.join(literal(value) for value in values)})"
    if op == "not in" or (op == "!=" and len(values) > 1):
        return f"NOT {expression} IN ({', '.join(literal(value) for value in values)})"
    return f"{expression} {_SQL_OPERATORS[op]} {literal(values[0])}"


def _outputs(plan: QueryPlan, model: SemanticModel) -> dict[str, str]:
    """Output column name -> SQL expression, in select order."""
    table = plan.table or ""
    if plan.operation in ROW_OPERATIONS and not _grouped(plan, model):
        return _row_outputs(plan, model, table)
    return _group_outputs(plan, model, table)


def _grouped(plan: QueryPlan, model: SemanticModel) -> bool:
    grain = model.tables[plan.table or ""].grain if plan.table in model.tables else ()
    return bool(plan.group_by) or any(model.dimensions[dim].time for dim in grain)


def _identity(model: SemanticModel, table: str) -> list[str]:
    grain = [dim for dim in model.tables[table].grain if not model.dimensions[dim].time]
    if grain == ["product"] and model.available("category", table):
        grain.append("category")
    return grain


def _row_outputs(plan: QueryPlan, model: SemanticModel, table: str) -> dict[str, str]:
    outputs: dict[str, str] = {}
    if plan.operation == "detail" and not plan.columns:
        return {name: name for name in model.detail_columns}
    if plan.columns:
        outputs.update({name: name for name in plan.columns})
    else:
        for dim in _identity(model, table):
            outputs[model.dimensions[dim].output] = model.dimensions[dim].expression(table)
        for item in plan.filters:
            dimension = model.dimensions.get(item.column)
            if dimension is not None:
                outputs.setdefault(dimension.output, dimension.expression(table))
    for name in [*plan.metrics, *(item.column for item in plan.filters), *_order_names(plan)]:
        metric = model.metrics.get(name)
        if metric is not None and metric.row_sql(table) is not None:
            outputs.setdefault(name, metric.row_sql(table) or name)
    return outputs


def _order_names(plan: QueryPlan) -> list[str]:
    return [item.column for item in plan.order]


def _group_dims(plan: QueryPlan, model: SemanticModel) -> list[str]:
    if plan.group_by:
        return list(plan.group_by)
    if plan.operation in ROW_OPERATIONS:
        return _identity(model, plan.table or "")
    return []


def _group_metrics(plan: QueryPlan, model: SemanticModel) -> list[str]:
    if plan.operation == "count":
        return ["products"]
    if plan.operation == "compare":
        return list(model.compare_metrics)
    names = [*plan.metrics]
    if plan.operation in ROW_OPERATIONS:
        names += [item.column for item in plan.filters if item.column in model.metrics]
        names += [name for name in _order_names(plan) if name in model.metrics]
    return list(dict.fromkeys(names))


def _group_outputs(plan: QueryPlan, model: SemanticModel, table: str) -> dict[str, str]:
    outputs: dict[str, str] = {}
    for dim in _group_dims(plan, model):
        dimension = model.dimensions[dim]
        outputs[dimension.output] = dimension.expression(table)
        if dim == "product" and model.available("category", table):
            outputs.setdefault("category", model.dimensions["category"].expression(table))
    for name in _group_metrics(plan, model):
        metric = model.metrics[name]
        if not model.available(name, table):
            continue
        alias = name if plan.operation == "compare" else metric.alias(table, plan.aggregation)
        outputs[alias] = metric.aggregate(table, plan.aggregation)
    return outputs


def _order_clause(plan: QueryPlan, model: SemanticModel, outputs: Mapping[str, str]) -> str:
    table = plan.table or ""
    keys: list[str] = []
    for item in plan.order:
        name = item.column
        if name in model.metrics and name not in outputs:
            name = model.metrics[name].alias(table, plan.aggregation)
        elif name in model.dimensions:
            name = model.dimensions[name].output
        direction = "DESC NULLS LAST" if item.descending else "ASC NULLS LAST"
        key = f"{name} {direction}"
        if name in outputs and key not in keys:
            keys.append(key)
    time_dims = [
        model.dimensions[dim].output
        for dim in _group_dims(plan, model)
        if model.dimensions[dim].time
    ]
    dims = [
        model.dimensions[dim].output
        for dim in [*_group_dims(plan, model), *_identity(model, table)]
        if model.dimensions[dim].output in outputs
    ]
    for name in [*time_dims, *dims]:
        if not any(key.split()[0] == name for key in keys):
            keys.append(f"{name} ASC NULLS LAST")
    return ", ".join(keys)


def compile_plan(plan: QueryPlan, model: SemanticModel) -> str:
    """The SQL SELECT of a checked plan (its table chosen)."""
    table = plan.table
    if table is None:
        raise PlanError("the plan has no table")
    outputs = _outputs(plan, model)
    grouped = plan.operation not in ROW_OPERATIONS or _grouped(plan, model)
    select = ", ".join(
        expression if expression == name else f"{expression} AS {name}"
        for name, expression in outputs.items()
    )
    where, having = [], []
    for item in plan.filters:
        if item.column in model.dimensions:
            expression = model.dimensions[item.column].expression(table)
            where.append(_condition(item, expression, model))
        elif item.on_aggregate:
            metric = model.metrics[item.column]
            having.append(_condition(item, metric.aggregate(table, plan.aggregation), model))
        else:
            expression = model.metrics[item.column].row_sql(table) or item.column
            where.append(_condition(item, expression, model))
    sql = f"SELECT {select} FROM {table}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    dims = [
        expression
        for name, expression in outputs.items()
        if model.dimension_of_column(name) is not None or name in _dim_outputs(plan, model)
    ]
    if grouped and dims:
        sql += " GROUP BY " + ", ".join(dims)
    if having:
        sql += " HAVING " + " AND ".join(having)
    order = _order_clause(plan, model, outputs)
    if order:
        sql += f" ORDER BY {order}"
    limit = min(plan.limit or model.max_rows, model.max_rows)
    return f"{sql} LIMIT {limit}"


def _dim_outputs(plan: QueryPlan, model: SemanticModel) -> set[str]:
    return {model.dimensions[dim].output for dim in _group_dims(plan, model)}


def default_order(plan: QueryPlan, model: SemanticModel) -> tuple[Order, ...]:
    """The sort a plan gets when it names none: its first metric, largest first."""
    if plan.order:
        return plan.order
    if plan.operation == "count":
        return (Order("products"),)
    if plan.operation == "timeseries":
        return ()
    names = _group_metrics(plan, model) if plan.operation not in ROW_OPERATIONS else plan.metrics
    return (Order(names[0]),) if names else ()
