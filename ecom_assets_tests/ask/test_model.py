"""The semantic model and the plan: every metric, dimension, segment and template compiles."""

from __future__ import annotations

import pytest

from ecom_assets.ask import Asker
from ecom_assets.ask.compiler import check_plan, compile_plan
from ecom_assets.ask.model import MODEL_PATH, ModelError, load_model, parse_model
from ecom_assets.ask.plan import PlanError, QueryPlan, plan_from_dict, plan_to_dict
from ecom_assets.ask.safety import validate_sql

MODEL = load_model()


def _run(asker: Asker, plan: QueryPlan) -> int:
    checked = check_plan(plan, asker.model, asker.columns)
    sql = validate_sql(compile_plan(checked, asker.model), asker.columns)
    return asker.execute(sql).height


@pytest.mark.parametrize(
    ("metric", "table"),
    [(name, table) for name, metric in MODEL.metrics.items() for table in sorted(metric.tables())],
)
def test_every_metric_aggregates_in_every_table(metric: str, table: str, asker: Asker) -> None:
    plan = QueryPlan("aggregate", table=table, metrics=(metric,))
    assert _run(asker, plan) == 1
    if MODEL.metrics[metric].row_sql(table) is not None:
        ranked = QueryPlan("top", table=table, metrics=(metric,), limit=3)
        assert _run(asker, ranked) == 3


@pytest.mark.parametrize(
    ("dim", "table"),
    [(name, table) for name, dim in MODEL.dimensions.items() for table in dim.tables],
)
def test_every_dimension_groups_in_every_table(dim: str, table: str, asker: Asker) -> None:
    if table == "category_metrics":
        plan = QueryPlan("aggregate", table=table, group_by=(dim,), metrics=("products",))
    else:
        plan = QueryPlan("count", table=table, group_by=(dim,))
    assert _run(asker, plan) >= 1


@pytest.mark.parametrize("segment", sorted(MODEL.segments))
def test_every_segment_compiles(segment: str, asker: Asker) -> None:
    spec = MODEL.segments[segment]
    plan = QueryPlan("list", filters=spec.filters, order=(spec.order,) if spec.order else ())
    assert _run(asker, plan) >= 0


def test_every_template_compiles_with_values_from_the_data(asker: Asker) -> None:
    for question in asker.examples():
        answer = asker.ask(question)
        asker.reset()
        assert answer.understood and answer.sql, (question, answer.answer)


def test_the_model_holds_no_data_values(frames) -> None:
    text = MODEL_PATH.read_text(encoding="utf-8")
    names = frames["product_decisions"]["product_name"].to_list()
    categories = frames["category_metrics"]["category"].to_list()
    assert not [value for value in [*names, *categories] if value in text]


def test_an_inconsistent_model_is_refused() -> None:
    with pytest.raises(ModelError, match="unknown format"):
        parse_model(
            {
                "tables": {"t": {}},
                "metrics": {"m": {"format": "stars", "sql": {"t": "m"}}},
                "dimensions": {},
                "segments": {},
            }
        )
    with pytest.raises(ModelError, match="unknown tables"):
        parse_model(
            {
                "tables": {"t": {}},
                "metrics": {"m": {"sql": {"nowhere": "m"}}},
                "dimensions": {},
                "segments": {},
            }
        )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "JSON object"),
        ({"operation": "delete"}, "unknown operation"),
        ({"operation": "list", "sql": "DROP TABLE x"}, "unknown plan fields"),
        ({"operation": "list", "limit": -1}, "positive whole number"),
        ({"operation": "list", "filters": [{"column": "x", "op": "like", "value": 1}]}, "operator"),
        ({"operation": "list", "filters": [{"column": "x", "op": "=", "value": {}}]}, "plain"),
        ({"operation": "list", "metrics": "a; DROP"}, None),
    ],
)
def test_plans_from_json_are_validated(data: object, message: str | None) -> None:
    if message is None:
        assert plan_from_dict(data).metrics == ("a; DROP",)
        return
    with pytest.raises(PlanError, match=message):
        plan_from_dict(data)


def test_plan_checks_refuse_unknown_names(asker: Asker) -> None:
    for plan, message in [
        (QueryPlan("list", table="users"), "not available"),
        (QueryPlan("list", metrics=("profit",)), "unknown metric or dimension 'profit'"),
        (QueryPlan("list", metrics=("predicted_revenue", "reviews")), "no table has"),
        (QueryPlan("list", table="product_decisions", metrics=("a; DROP",)), "unknown metric"),
        (QueryPlan("list", table="product_decisions", columns=("secret",)), "unknown column"),
        (
            QueryPlan("aggregate", table="monthly_sales", metrics=("predicted_revenue",)),
            "not available",
        ),
    ]:
        with pytest.raises(PlanError, match=message):
            check_plan(plan, asker.model, asker.columns)


def test_plans_round_trip_through_json() -> None:
    plan = plan_from_dict(
        {
            "operation": "top",
            "metrics": ["total_revenue"],
            "filters": [{"column": "category", "op": "in", "value": ["Books", "Toys"]}],
            "order": [{"column": "total_revenue", "descending": False}],
            "limit": 3,
        }
    )
    assert plan_from_dict(plan_to_dict(plan)) == plan


def test_a_value_can_never_become_sql(asker: Asker) -> None:
    plan = QueryPlan(
        "list",
        filters=(
            plan_from_dict(
                {"operation": "list", "filters": [["category", "=", "x' OR '1'='1"]]}
            ).filters
        ),
    )
    checked = check_plan(plan, asker.model, asker.columns)
    assert "'x'' OR ''1''=''1'" in compile_plan(checked, asker.model)
    assert _run(asker, plan) == 0
