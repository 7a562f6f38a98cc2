"""From what a question says (`Parts`) to a query plan, and follow-ups as edits of a plan.

`build_plan` chooses the operation: a product's facts (`what should we do about X`), an actual
vs predicted comparison, a time series (`monthly`, `by month`), a ranking (`top 5`, `grow the
most`), a count (`how many`), an aggregate (`total`, `average`, a measure by a dimension) or a
list of products matching filters. `apply_followup` edits the previous plan with a question that
only changes something (`now only Electronics`, `bottom instead`, `top 10 instead`, `by category`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ecom_assets.ask.compiler import default_order
from ecom_assets.ask.model import SemanticModel
from ecom_assets.ask.plan import Filter, Order, PlanError, QueryPlan

_SUBJECT_CUES = ("count", "compare", "detail", "time_month", "time_year")
_RELATED = {
    "product": ("category",),
    "category": ("product",),
    "month": ("year",),
    "year": ("month",),
}


@dataclass
class Parts:
    """What the items of a question say, before an operation is chosen."""

    metrics: list[str] = field(default_factory=list)
    aggregation: str | None = None
    agg_hint: bool = False
    filters: list[Filter] = field(default_factory=list)
    group_by: list[str] = field(default_factory=list)
    rank_metric: str | None = None
    segment_order: Order | None = None
    ranking: bool = False
    descending: bool | None = None
    limit: int | None = None
    entity: str | None = None
    entity_plural: bool = True
    cues: set[str] = field(default_factory=set)
    cleared: set[str] = field(default_factory=set)
    unknown: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def has_subject(self) -> bool:
        """Whether the question says what to show, rather than only how to change it."""
        return bool(
            self.metrics
            or self.entity
            or self.aggregation
            or self.rank_metric
            or self.segment_order
            or self.cues & set(_SUBJECT_CUES)
        )

    def is_empty(self) -> bool:
        """Whether nothing at all was understood."""
        return not (
            self.has_subject()
            or self.filters
            or self.group_by
            or self.limit
            or self.descending is not None
            or self.cleared
        )


def add_filter(parts: Parts, condition: Filter) -> None:
    """Add a condition, merging equality conditions on the same dimension into one IN."""
    parts.filters = _merge_filters([*parts.filters, condition])


def _merge_filters(filters: list[Filter]) -> list[Filter]:
    """Equality filters on the same dimension become one IN filter (values in order)."""
    merged: list[Filter] = []
    for item in filters:
        previous = next(
            (
                old
                for old in merged
                if old.column == item.column
                and old.op in ("=", "in")
                and item.op in ("=", "in")
                and not isinstance(old.value, int | float)
            ),
            None,
        )
        if previous is None:
            merged.append(item)
            continue
        values = [*_as_tuple(previous.value), *_as_tuple(item.value)]
        unique = tuple(dict.fromkeys(values))
        combined = Filter(
            item.column, "in" if len(unique) > 1 else "=", unique if len(unique) > 1 else unique[0]
        )
        merged[merged.index(previous)] = combined
    return merged


def _as_tuple(value: object) -> tuple[object, ...]:
    return tuple(value) if isinstance(value, tuple | list) else (value,)


def build_plan(parts: Parts, model: SemanticModel) -> QueryPlan:
    """The plan of a stand-alone question."""
    cues = parts.cues
    group = list(parts.group_by)
    if "time_month" in cues and "month" not in group:
        group.insert(0, "month")
    if "time_year" in cues and "year" not in group:
        group.insert(0, "year")
    entity = parts.entity
    metrics = list(parts.metrics)
    counting = [name for name in metrics if name in ("products", "categories")]
    ranking = parts.descending is not None or parts.ranking or parts.rank_metric is not None
    ranking = ranking or (parts.limit is not None and "count" not in cues)
    if entity is not None and model.dimensions[entity].time and entity not in group:
        group.insert(0, entity)
        entity = None
    if "detail" in cues:
        return _detail(parts)
    if "compare" in cues:
        return _compare(parts, group, model)
    if any(model.dimensions[dim].time for dim in group):
        if ranking and parts.entity and model.dimensions[parts.entity].time:
            return _ranking(parts, group, metrics or ["total_revenue"], model)
        return _timeseries(parts, group, metrics, model)
    if (
        entity not in (None, "product")
        and entity not in group
        and not ("count" in cues and not group)
    ):
        group.append(entity)
    if ranking:
        if parts.entity == "product" and group:
            raise PlanError(
                "ranking products within each group is not supported; ask about one group, "
                "e.g. 'top 3 products in <category>'"
            )
        return _ranking(parts, group, metrics, model)
    if ("count" in cues and not (set(metrics) - set(counting))) or (
        counting and len(counting) == len(metrics)
    ):
        return _count(parts, group, model)
    aggregate = parts.aggregation or parts.agg_hint or "count" in cues
    if aggregate or (metrics and (group or entity is None)):
        return _aggregate(parts, group, metrics, model)
    if group:
        return _count(parts, group, model)
    return _list(parts, metrics)


def _display_dims(parts: Parts, group: list[str], model: SemanticModel) -> list[str]:
    """Group dims plus the dims filtered to one value (shown beside the number)."""
    dims = list(group)
    for item in parts.filters:
        single = not isinstance(item.value, tuple | list) and item.op == "="
        dimension = model.dimensions.get(item.column)
        if single and dimension and not dimension.time and item.column not in dims:
            dims.append(item.column)
    return dims


def _detail(parts: Parts) -> QueryPlan:
    if not any(item.column in ("product", "category") for item in parts.filters):
        raise PlanError("which product? Name one, e.g. 'what should we do about <product>'")
    plan = QueryPlan("detail", "product_decisions", filters=tuple(parts.filters))
    return plan.with_changes(order=(Order("predicted_revenue"),))


def _compare(parts: Parts, group: list[str], model: SemanticModel) -> QueryPlan:
    dims = [dim for dim in _display_dims(parts, group, model) if dim in ("product", "category")]
    dims += [dim for dim in group if dim not in dims]
    plan = QueryPlan("compare", group_by=tuple(dims), filters=tuple(parts.filters))
    return plan.with_changes(order=(Order("predicted_revenue"),))


def _timeseries(
    parts: Parts, group: list[str], metrics: list[str], model: SemanticModel
) -> QueryPlan:
    time_dims = [dim for dim in group if model.dimensions[dim].time]
    others = [dim for dim in group if dim not in time_dims]
    return QueryPlan(
        "timeseries",
        metrics=tuple(metrics or ["total_revenue"]),
        group_by=tuple(time_dims + others),
        filters=tuple(parts.filters),
        order=tuple(Order(dim, descending=False) for dim in time_dims),
        aggregation=parts.aggregation,
    )


def _ranking(parts: Parts, group: list[str], metrics: list[str], model: SemanticModel) -> QueryPlan:
    segment = parts.segment_order
    rank = parts.rank_metric or (segment.column if segment else None)
    rank = rank or next(iter(metrics), None) or model.default_metric
    if segment is not None and rank == segment.column:
        descending = segment.descending != (parts.descending is False)
    else:
        descending = parts.descending is not False
    limit = parts.limit
    if limit is None:
        limit = 1 if (parts.entity and not parts.entity_plural) else model.default_top
    shown = [rank, *(name for name in metrics if name != rank)]
    return QueryPlan(
        "bottom" if parts.descending is False else "top",
        metrics=tuple(shown),
        group_by=tuple(group),
        filters=tuple(parts.filters),
        order=(Order(rank, descending),),
        limit=limit,
        aggregation=parts.aggregation,
    )


def _count(parts: Parts, group: list[str], model: SemanticModel) -> QueryPlan:
    if parts.entity == "category" and not group:
        return QueryPlan("aggregate", metrics=("categories",), filters=tuple(parts.filters))
    dims = _display_dims(parts, group, model)
    plan = QueryPlan("count", group_by=tuple(dims), filters=tuple(parts.filters))
    return plan.with_changes(order=(Order("products"),))


def _aggregate(
    parts: Parts, group: list[str], metrics: list[str], model: SemanticModel
) -> QueryPlan:
    dims = _display_dims(parts, group, model)
    plan = QueryPlan(
        "aggregate",
        metrics=tuple(metrics or [model.default_metric]),
        group_by=tuple(dims),
        filters=tuple(parts.filters),
        aggregation=parts.aggregation,
    )
    return plan.with_changes(order=default_order(plan, model) if dims else ())


def _list(parts: Parts, metrics: list[str]) -> QueryPlan:
    segment = parts.segment_order
    shown = list(metrics)
    if segment is not None and segment.column not in shown:
        shown.append(segment.column)
    order = (segment,) if segment is not None else ()
    if not order and shown:
        order = (Order(shown[0]),)
    return QueryPlan("list", metrics=tuple(shown), filters=tuple(parts.filters), order=order)


def apply_followup(previous: QueryPlan, parts: Parts, model: SemanticModel) -> QueryPlan:
    """The previous plan edited by a follow-up (`now only Electronics`, `bottom instead`)."""
    plan = previous.with_changes(table=None)
    filters = [item for item in plan.filters if item.column not in parts.cleared]
    for item in parts.filters:
        replaced = {item.column, *_RELATED.get(item.column, ())}
        filters = [
            old
            for old in filters
            if old.column not in replaced or (item.column in model.metrics and old.op != item.op)
        ]
        filters.append(item)
    plan = plan.with_changes(filters=tuple(_merge_filters(filters)))
    if parts.metrics or parts.rank_metric:
        metric = parts.rank_metric or parts.metrics[0]
        others = [name for name in parts.metrics if name != metric]
        descending = plan.order[0].descending if plan.order else True
        plan = plan.with_changes(
            metrics=(metric, *others), order=(Order(metric, descending),), columns=()
        )
    if parts.aggregation:
        plan = plan.with_changes(aggregation=parts.aggregation)
    if parts.group_by:
        operation = plan.operation
        if operation in ("list", "detail"):
            operation = "aggregate"
        metrics = plan.metrics or (model.default_metric,)
        plan = plan.with_changes(
            operation=operation, group_by=tuple(parts.group_by), metrics=metrics, columns=()
        )
        if operation == "aggregate":
            plan = plan.with_changes(order=(Order(metrics[0]),))
    if parts.descending is not None:
        order = plan.order or default_order(plan, model)
        flipped = tuple(Order(item.column, parts.descending) for item in order[:1])
        operation = plan.operation
        if operation in ("top", "bottom", "list"):
            operation = "top" if parts.descending else "bottom"
        plan = plan.with_changes(order=flipped + order[1:], operation=operation)
    if parts.limit is not None:
        operation = plan.operation
        if operation == "list":
            operation = "top"
        plan = plan.with_changes(limit=parts.limit, operation=operation)
    if "time_month" in parts.cues and "month" not in plan.group_by:
        plan = plan.with_changes(
            operation="timeseries",
            group_by=("month", *plan.group_by),
            order=(Order("month", False),),
            metrics=plan.metrics or ("total_revenue",),
            limit=None,
        )
    return plan
