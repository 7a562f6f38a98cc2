"""The decision engine on small hand-built forecasts; every expected value is worked out by hand.

Most tests put one product of interest among four fillers in the same category, priced 100 with
a flat forecast, so the bucket thresholds and the category median price are easy to compute:
with the default quantiles (0.8 and 0.4, linear interpolation) over five predicted revenues the
High threshold is the value 3.2 steps up the sorted list and the Low threshold 1.6 steps up.
"""

from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from ecom_assets.transforms.decisions import (
    ACTIONS,
    DECISION_COLUMNS,
    DECISION_SCHEMA,
    DEFAULT_RULES_PATH,
    BucketThresholds,
    Conditions,
    DecisionRules,
    DecisionRulesError,
    Rule,
    decide,
    load_decision_rules,
    parse_decision_rules,
)

AS_OF = date(2026, 9, 30)
FILLER_REVENUES = (100.0, 200.0, 300.0, 400.0)
FORECAST_SCHEMA: dict[str, Any] = {
    "product_id": pl.String,
    "product_name": pl.String,
    "category": pl.String,
    "total_revenue": pl.Float64,
    "total_orders": pl.Int64,
    "total_quantity": pl.Int64,
    "avg_rating": pl.Float64,
    "revenue_last_period": pl.Float64,
    "predicted_revenue": pl.Float64,
    "predicted_lower": pl.Float64,
    "predicted_upper": pl.Float64,
    "model_version": pl.String,
    "as_of_date": pl.Date,
    "horizon_days": pl.Int64,
    "current_price": pl.Float64,
    "forecast_method": pl.String,
    "product_age_days": pl.Int64,
}


def _product(
    product_id: str,
    predicted: float,
    last: float | None = None,
    rating: float | None = 4.5,
    price: float | None = 100.0,
    category: str = "Electronics",
    method: str = "model",
    age: int = 400,
    horizon: int = 30,
) -> dict[str, Any]:
    """One forecast row; `last` defaults to `predicted` (a flat forecast, change 0%)."""
    return {
        "product_id": product_id,
        "product_name": f"Product {product_id}",
        "category": category,
        "total_revenue": 5000.0,
        "total_orders": 50,
        "total_quantity": 60,
        "avg_rating": rating,
        "revenue_last_period": predicted if last is None else last,
        "predicted_revenue": predicted,
        "predicted_lower": predicted * 0.8,
        "predicted_upper": predicted * 1.2,
        "model_version": "revenue_model/3",
        "as_of_date": AS_OF,
        "horizon_days": horizon,
        "current_price": price,
        "forecast_method": method,
        "product_age_days": age,
    }


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=FORECAST_SCHEMA)


def _with_fillers(target: dict[str, Any]) -> pl.DataFrame:
    fillers = [_product(f"f{i}", revenue) for i, revenue in enumerate(FILLER_REVENUES)]
    return _frame([target, *fillers])


@pytest.fixture(scope="module")
def default_rules() -> DecisionRules:
    return load_decision_rules()


def _decision(forecast: pl.DataFrame, rules: DecisionRules, product_id: str) -> dict[str, Any]:
    return decide(forecast, rules).filter(pl.col("product_id") == product_id).row(0, named=True)


# Rule files that cannot be used: each error names the file and the setting at fault.

VALID_RULES = """\
buckets:
  high_quantile: 0.8
  low_quantile: 0.4
rules:
  - action: review product
    when:
      rating_below: 3.0
  - action: maintain and monitor
    when: {}
"""


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            VALID_RULES.replace("action: review product", "action: sell more"),
            "rule 1: action 'sell more' is not one of",
        ),
        (
            VALID_RULES.replace("action: maintain and monitor", "action: Maintain"),
            "rule 2: action 'Maintain'",
        ),
        (
            VALID_RULES.replace("rating_below", "margin_below"),
            "unknown condition(s) ['margin_below']",
        ),
        (VALID_RULES.replace("when: {}", "when: {rating_at_least: 3.0}"), "must be a catch-all"),
        (VALID_RULES.replace("rating_below: 3.0", "bucket: [Top]"), "rule 1: when.bucket"),
        (VALID_RULES.replace("rating_below: 3.0", "bucket: []"), "rule 1: when.bucket"),
        (
            VALID_RULES.replace("    when:\n      rating_below: 3.0\n", "    when: {}\n"),
            "rule 1 has no conditions",
        ),
        (VALID_RULES.replace("rating_below: 3.0", "rating_below: low"), "when.rating_below"),
        (VALID_RULES.replace("rating_below: 3.0", "new_product: yes please"), "when.new_product"),
        (
            VALID_RULES.replace("rating_below: 3.0", "{change_at_least: 10, change_at_most: -10}"),
            "rule 1: when.change_at_least (10.0) and when.change_at_most (-10.0)",
        ),
        (VALID_RULES.replace("high_quantile: 0.8", "high_quantile: 1.5"), "buckets.high_quantile"),
        (VALID_RULES.replace("low_quantile: 0.4", "low_quantile: 0.9"), "buckets.low_quantile"),
        (VALID_RULES.replace("high_quantile: 0.8", "high_at_least: 500"), "buckets must give"),
        (VALID_RULES.replace("low_quantile: 0.4", "low_quantile: '0.4'"), "buckets.low_quantile"),
        (VALID_RULES.replace("buckets:", "bucket:"), "unknown setting(s) ['bucket']"),
        (VALID_RULES.replace("  - action: review", "  - actoin: review"), "rule 1: unknown"),
        ("rules: [\n", "not valid YAML"),
        ("- just a list\n", "must be a mapping"),
        (VALID_RULES.split("rules:")[0], "missing required setting 'rules'"),
        (VALID_RULES.split("rules:")[0] + "rules: []\n", "at least one rule"),
    ],
)
def test_bad_rule_file_names_the_file_and_the_setting(
    tmp_path: Path, text: str, fragment: str
) -> None:
    path = tmp_path / "my_rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DecisionRulesError) as raised:
        load_decision_rules(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ")
    assert fragment in message


def test_missing_rule_file_is_a_decision_rules_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(DecisionRulesError, match="cannot read the file") as raised:
        load_decision_rules(path)
    assert str(path) in str(raised.value)


def test_rules_built_in_code_are_validated_too() -> None:
    with pytest.raises(DecisionRulesError, match=r"^in code: rule 1 .*must be a catch-all"):
        DecisionRules(
            buckets=BucketThresholds(by="quantile", high=0.8, low=0.4),
            rules=(Rule("review product", Conditions(rating_below=3.0)),),
            origin="in code",
        )


def test_a_valid_file_parses_into_rules(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(VALID_RULES, encoding="utf-8")
    rules = load_decision_rules(path)
    assert rules == DecisionRules(
        buckets=BucketThresholds(by="quantile", high=0.8, low=0.4),
        rules=(
            Rule("review product", Conditions(rating_below=3.0)),
            Rule("maintain and monitor", Conditions()),
        ),
        origin=str(path),
    )


# The default rules file.


def test_default_file_loads_with_the_documented_thresholds_and_rule_order(
    default_rules: DecisionRules,
) -> None:
    assert default_rules.origin == str(DEFAULT_RULES_PATH)
    assert DEFAULT_RULES_PATH.name == "decision_rules.yaml"
    assert default_rules.buckets == BucketThresholds(by="quantile", high=0.8, low=0.4)
    assert default_rules.rules == (
        Rule("maintain and monitor", Conditions(new_product=True)),
        Rule("review product", Conditions(rating_below=3.0)),
        Rule("increase inventory", Conditions(bucket=("High",), change_at_least=10.0)),
        Rule("apply discount", Conditions(bucket=("Low",), price_vs_category_at_least=10.0)),
        Rule("optimise price", Conditions(change_at_most=-20.0, price_vs_category_at_least=5.0)),
        Rule("apply discount", Conditions(bucket=("Low",), change_at_most=-30.0)),
        Rule("maintain and monitor", Conditions()),
    )
    assert {rule.action for rule in default_rules.rules} == set(ACTIONS)


# One test per default rule: the facts, the action, and a reason that states the facts.


def test_new_product_is_maintained_and_its_forecast_called_a_run_rate(
    default_rules: DecisionRules,
) -> None:
    # Also rated 2.0 and High with +400%: the new-product rule comes first and wins.
    target = _product("new", 500.0, last=100.0, rating=2.0, method="new_product_run_rate", age=20)
    row = _decision(_with_fillers(target), default_rules, "new")
    assert row["recommended_action"] == "maintain and monitor"
    assert row["action_reason"] == (
        "New launch on sale for 20 days, so the forecast (500 over the next 30 days) is its run "
        "rate since launch."
    )


def test_rating_below_three_is_reviewed(default_rules: DecisionRules) -> None:
    # High with +50% would also increase inventory, but the rating rule comes first.
    row = _decision(
        _with_fillers(_product("bad", 500.0, last=333.0, rating=2.6)), default_rules, "bad"
    )
    assert row["recommended_action"] == "review product"
    assert row["action_reason"] == "Rating 2.6 is below 3.0."


def test_rating_of_exactly_three_or_unknown_is_not_reviewed(default_rules: DecisionRules) -> None:
    forecast = _frame(
        [
            _product("three", 250.0, rating=3.0),
            _product("unrated", 250.0, rating=None),
            *(_product(f"f{i}", revenue) for i, revenue in enumerate(FILLER_REVENUES)),
        ]
    )
    decisions = decide(forecast, default_rules)
    actions = dict(decisions.select("product_id", "recommended_action").iter_rows())
    assert actions["three"] == "maintain and monitor"
    assert actions["unrated"] == "maintain and monitor"


def test_high_bucket_rising_ten_percent_or_more_increases_inventory(
    default_rules: DecisionRules,
) -> None:
    # 12,340 is the top of [100, 200, 300, 400, 12340]; change = 100 * 2340 / 10000 = 23.4%.
    row = _decision(_with_fillers(_product("star", 12340.0, last=10000.0)), default_rules, "star")
    assert row["performance_bucket"] == "High"
    assert row["predicted_change_pct"] == pytest.approx(23.4)
    assert row["recommended_action"] == "increase inventory"
    assert row["action_reason"] == (
        "High expected revenue (12,340 over the next 30 days) and a predicted rise of 23.4% on "
        "the last 30 days."
    )


def test_high_bucket_rising_exactly_ten_percent_increases_inventory(
    default_rules: DecisionRules,
) -> None:
    row = _decision(_with_fillers(_product("edge", 1100.0, last=1000.0)), default_rules, "edge")
    assert row["predicted_change_pct"] == pytest.approx(10.0)
    assert row["recommended_action"] == "increase inventory"
    assert "a predicted rise of 10% on the last 30 days" in row["action_reason"]


def test_high_bucket_rising_less_than_ten_percent_is_maintained(
    default_rules: DecisionRules,
) -> None:
    row = _decision(_with_fillers(_product("slow", 1095.0, last=1000.0)), default_rules, "slow")
    assert row["performance_bucket"] == "High"
    assert row["recommended_action"] == "maintain and monitor"
    assert row["action_reason"] == (
        "High expected revenue (1,095 over the next 30 days) and a predicted rise of 9.5% on the "
        "last 30 days."
    )


def test_low_bucket_priced_well_above_its_category_gets_a_discount(
    default_rules: DecisionRules,
) -> None:
    # Prices [122, 100, 100, 100, 100]: the Electronics median is 100, so 122 is 22% above.
    # Thresholds over [50, 100, 200, 300, 400]: Low below 160, so 50 is Low.
    row = _decision(_with_fillers(_product("dear", 50.0, price=122.0)), default_rules, "dear")
    assert row["performance_bucket"] == "Low"
    assert row["recommended_action"] == "apply discount"
    assert row["action_reason"] == (
        "Low expected revenue (50 over the next 30 days) and price is 22% above the Electronics "
        "median."
    )


def test_low_bucket_without_a_price_is_not_discounted_for_price(
    default_rules: DecisionRules,
) -> None:
    row = _decision(_with_fillers(_product("nop", 50.0, price=None)), default_rules, "nop")
    assert row["recommended_action"] == "maintain and monitor"


def test_falling_product_priced_above_its_category_gets_its_price_optimised(
    default_rules: DecisionRules,
) -> None:
    # Medium (Low below 230, High from 320 over [100, 200, 250, 300, 400]);
    # change = 100 * (250 - 400) / 400 = -37.5%; price 108 over a median of 100 is +8%.
    target = _product("sag", 250.0, last=400.0, price=108.0)
    row = _decision(_with_fillers(target), default_rules, "sag")
    assert row["performance_bucket"] == "Medium"
    assert row["recommended_action"] == "optimise price"
    assert row["action_reason"] == (
        "A predicted fall of 37.5% on the last 30 days and price is 8% above the Electronics "
        "median."
    )


def test_low_bucket_falling_steeply_gets_a_discount(default_rules: DecisionRules) -> None:
    # Low (50 < 160); change = 100 * (50 - 100) / 100 = -50%; price at the median.
    row = _decision(_with_fillers(_product("drop", 50.0, last=100.0)), default_rules, "drop")
    assert row["recommended_action"] == "apply discount"
    assert row["action_reason"] == (
        "Low expected revenue (50 over the next 30 days) and a predicted fall of 50% on the last "
        "30 days."
    )


def test_everything_else_is_maintained_with_bucket_and_change(
    default_rules: DecisionRules,
) -> None:
    row = _decision(_with_fillers(_product("ok", 250.0, last=200.0)), default_rules, "ok")
    assert row["recommended_action"] == "maintain and monitor"
    assert row["action_reason"] == (
        "Medium expected revenue (250 over the next 30 days) and a predicted rise of 25% on the "
        "last 30 days."
    )


def test_no_revenue_last_period_means_no_change_and_the_reason_says_so(
    default_rules: DecisionRules,
) -> None:
    # Low and no change to compare: the change rules cannot match, the catch-all explains why.
    row = _decision(_with_fillers(_product("gap", 50.0, last=0.0)), default_rules, "gap")
    assert row["predicted_change_pct"] is None
    assert row["recommended_action"] == "maintain and monitor"
    assert row["action_reason"] == (
        "Low expected revenue (50 over the next 30 days) and no revenue in the last 30 days to "
        "compare the forecast with."
    )


# Rule order: the first matching rule wins.


def test_first_matching_rule_wins_among_the_defaults(default_rules: DecisionRules) -> None:
    forecast = _frame(
        [
            # Low, 20% above the median and -50%: rules 4 and 6 match, 4 comes first.
            _product("both_discounts", 50.0, last=100.0, price=120.0),
            # Low, 6% above the median and -40%: rules 5 and 6 match, 5 comes first.
            _product("price_first", 60.0, last=100.0, price=106.0),
            *(_product(f"f{i}", revenue) for i, revenue in enumerate(FILLER_REVENUES)),
        ]
    )
    # Prices [120, 106, 100, 100, 100, 100]: median 100. Revenues [50, 60, 100, 200, 300, 400]:
    # the 0.4 quantile is 2 steps up, 100, so 50 and 60 are Low.
    decisions = decide(forecast, default_rules)
    by_id = {row["product_id"]: row for row in decisions.iter_rows(named=True)}
    assert by_id["both_discounts"]["recommended_action"] == "apply discount"
    assert "price is 20% above the Electronics median" in by_id["both_discounts"]["action_reason"]
    assert by_id["price_first"]["recommended_action"] == "optimise price"
    assert by_id["price_first"]["action_reason"] == (
        "A predicted fall of 40% on the last 30 days and price is 6% above the Electronics median."
    )


def test_swapping_two_rules_swaps_the_outcome() -> None:
    buckets = BucketThresholds(by="amount", high=1000.0, low=100.0)
    low_rated = Rule("review product", Conditions(rating_below=3.0))
    rising = Rule("increase inventory", Conditions(change_at_least=10.0))
    catch_all = Rule("maintain and monitor", Conditions())
    forecast = _frame([_product("p", 5000.0, last=1000.0, rating=2.0)])
    first = decide(forecast, DecisionRules(buckets, (low_rated, rising, catch_all)))
    second = decide(forecast, DecisionRules(buckets, (rising, low_rated, catch_all)))
    assert first.item(0, "recommended_action") == "review product"
    assert second.item(0, "recommended_action") == "increase inventory"
    assert second.item(0, "action_reason") == "A predicted rise of 400% on the last 30 days."


# Derived facts: buckets and predicted change.


def test_buckets_by_quantile_of_predicted_revenue(default_rules: DecisionRules) -> None:
    # [100, 200, 300, 400, 500]: High from 400 + 0.2 * 100 = 420, Low below 200 + 0.6 * 100 = 260.
    forecast = _frame([_product(f"p{i}", 100.0 * i) for i in range(1, 6)])
    decisions = decide(forecast, default_rules).sort("product_id")
    assert decisions["performance_bucket"].to_list() == ["Low", "Low", "Medium", "Medium", "High"]


def test_buckets_by_custom_quantiles() -> None:
    rules = parse_decision_rules(
        {
            "buckets": {"high_quantile": 0.5, "low_quantile": 0.5},
            "rules": [{"action": "maintain and monitor", "when": {}}],
        },
        "inline",
    )
    # Median of [10, 20, 30, 40] is 25: below it Low, at or above it High, nothing Medium.
    forecast = _frame([_product(f"p{i}", 10.0 * i) for i in range(1, 5)])
    decisions = decide(forecast, rules).sort("product_id")
    assert decisions["performance_bucket"].to_list() == ["Low", "Low", "High", "High"]


def test_buckets_by_fixed_revenue_thresholds(tmp_path: Path) -> None:
    path = tmp_path / "fixed.yaml"
    path.write_text(
        "buckets:\n  high_at_least: 300\n  low_below: 150\n"
        "rules:\n  - action: maintain and monitor\n    when: {}\n",
        encoding="utf-8",
    )
    rules = load_decision_rules(path)
    assert rules.buckets == BucketThresholds(by="amount", high=300.0, low=150.0)
    revenues = [100.0, 149.99, 150.0, 299.99, 300.0, 1000.0]
    forecast = _frame([_product(f"p{i}", revenue) for i, revenue in enumerate(revenues)])
    decisions = decide(forecast, rules).sort("product_id")
    assert decisions["performance_bucket"].to_list() == [
        "Low",
        "Low",
        "Medium",
        "Medium",
        "High",
        "High",
    ]


@pytest.mark.parametrize(
    ("last", "predicted", "expected"),
    [
        (100.0, 125.0, 25.0),
        (200.0, 150.0, -25.0),
        (3.0, 4.0, 33.33),
        (80.0, 80.0, 0.0),
        (0.0, 120.0, None),
        (-15.0, 120.0, None),
        (0.0, 0.0, None),
    ],
)
def test_predicted_change_pct(
    default_rules: DecisionRules, last: float, predicted: float, expected: float | None
) -> None:
    row = decide(_frame([_product("p", predicted, last=last)]), default_rules).row(0, named=True)
    if expected is None:
        assert row["predicted_change_pct"] is None
    else:
        assert row["predicted_change_pct"] == pytest.approx(expected)


def test_horizon_and_flat_change_read_naturally_in_reasons(default_rules: DecisionRules) -> None:
    forecast = _frame(
        [_product("p", 2_345_678.4, last=2_345_678.4, horizon=7), _product("q", 10.0, horizon=7)]
    )
    row = decide(forecast, default_rules).filter(pl.col("product_id") == "p").row(0, named=True)
    assert row["action_reason"] == (
        "High expected revenue (2,345,678 over the next 7 days) and predicted revenue level with "
        "the last 7 days."
    )


# The output contract.


def test_output_is_one_row_per_product_with_exactly_the_decision_columns(
    default_rules: DecisionRules,
) -> None:
    rows = [
        _product("new", 500.0, method="new_product_run_rate", age=10),
        _product("bad", 400.0, rating=1.5),
        _product("star", 9000.0, last=1000.0),
        _product("dear", 10.0, price=150.0),
        _product("sag", 300.0, last=1000.0, price=110.0),
        _product("drop", 20.0, last=100.0),
        _product("ok", 350.0, last=340.0, category="Books", method="baseline:seasonal_naive"),
        _product("gap", 200.0, last=0.0, rating=None, category="Books", price=None),
    ]
    forecast = _frame(rows).with_columns(pl.lit("ignored").alias("extra_column"))
    forecast = forecast.select(reversed(forecast.columns))
    decisions = decide(forecast, default_rules)
    assert decisions.columns == DECISION_COLUMNS
    assert decisions.schema == pl.Schema(DECISION_SCHEMA)
    assert decisions.height == len(rows)
    assert sorted(decisions["product_id"]) == sorted(row["product_id"] for row in rows)
    assert set(decisions["recommended_action"]) == set(ACTIONS)
    for column in ("performance_bucket", "recommended_action", "action_reason"):
        assert decisions[column].null_count() == 0
    for reason in decisions["action_reason"]:
        assert reason[0].isupper() and reason.endswith(".")
        assert ". " not in reason


def test_empty_forecast_gives_an_empty_table(default_rules: DecisionRules) -> None:
    decisions = decide(_frame([]), default_rules)
    assert decisions.columns == DECISION_COLUMNS
    assert decisions.height == 0


def test_forecast_missing_a_column_is_refused(default_rules: DecisionRules) -> None:
    forecast = _with_fillers(_product("p", 100.0)).drop("current_price")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['current_price'\]"):
        decide(forecast, default_rules)


# Rules are configuration: a custom file changes the outcome without code changes.


def test_custom_rules_file_changes_the_outcome(
    tmp_path: Path, default_rules: DecisionRules
) -> None:
    forecast = _with_fillers(_product("meh", 250.0, rating=3.5))
    assert _decision(forecast, default_rules, "meh")["recommended_action"] == (
        "maintain and monitor"
    )
    path = tmp_path / "strict.yaml"
    path.write_text(VALID_RULES.replace("rating_below: 3.0", "rating_below: 4.0"), encoding="utf-8")
    row = _decision(forecast, load_decision_rules(path), "meh")
    assert row["recommended_action"] == "review product"
    assert row["action_reason"] == "Rating 3.5 is below 4.0."
