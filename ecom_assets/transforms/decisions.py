"""The decision engine: a per-product revenue forecast in, the `product_decisions` table out.

`decide` adds three derived facts to every product: the predicted change on the last period
(`predicted_change_pct`), a High / Medium / Low `performance_bucket` from predicted revenue, and
the price position within its category (percent above or below the category's median current
price). It then gives each product the action of the first rule whose conditions all hold, with
a one-sentence reason naming those facts and their numbers.

The thresholds and the ordered rules are configuration (`decision_rules.yaml` beside the package,
read by `load_decision_rules`), not code. Everything is vectorised Polars: rules are looped over
to build expressions, rows never are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import polars as pl
import yaml

ACTIONS = (
    "increase inventory",
    "maintain and monitor",
    "optimise price",
    "apply discount",
    "review product",
)
BUCKETS = ("High", "Medium", "Low")
DECISION_SCHEMA: dict[str, pl.DataType] = {
    "product_id": pl.String(),
    "product_name": pl.String(),
    "category": pl.String(),
    "total_revenue": pl.Float64(),
    "total_orders": pl.Int64(),
    "total_quantity": pl.Int64(),
    "avg_rating": pl.Float64(),
    "revenue_last_period": pl.Float64(),
    "predicted_revenue": pl.Float64(),
    "predicted_lower": pl.Float64(),
    "predicted_upper": pl.Float64(),
    "predicted_change_pct": pl.Float64(),
    "performance_bucket": pl.String(),
    "recommended_action": pl.String(),
    "action_reason": pl.String(),
    "model_version": pl.String(),
    "as_of_date": pl.Date(),
    "horizon_days": pl.Int64(),
}
DECISION_COLUMNS = list(DECISION_SCHEMA)
FORECAST_COLUMNS = (
    "product_id",
    "product_name",
    "category",
    "total_revenue",
    "total_orders",
    "total_quantity",
    "avg_rating",
    "revenue_last_period",
    "predicted_revenue",
    "predicted_lower",
    "predicted_upper",
    "model_version",
    "as_of_date",
    "horizon_days",
    "current_price",
    "forecast_method",
    "product_age_days",
)
NEW_PRODUCT_METHOD = "new_product_run_rate"
DEFAULT_RULES_PATH = Path(__file__).resolve().parent.parent / "decision_rules.yaml"

_NUMBER_CONDITIONS = (
    "change_at_least",
    "change_at_most",
    "rating_below",
    "rating_at_least",
    "price_vs_category_at_least",
    "price_vs_category_at_most",
)
CONDITIONS = ("bucket", *_NUMBER_CONDITIONS, "new_product")
_CHANGE = "predicted_change_pct"
_PRICE_VS_CATEGORY = "_price_vs_category_pct"


class DecisionRulesError(ValueError):
    """A decision rules file that cannot be used; the message names the file and the setting."""

    def __init__(self, origin: str, problem: str) -> None:
        super().__init__(f"{origin}: {problem}")
        self.origin = origin
        self.problem = problem


@dataclass(frozen=True)
class BucketThresholds:
    """How predicted revenue maps onto High / Medium / Low.

    With `by="quantile"`, `high` and `low` are quantiles (0..1) of predicted revenue over all
    products in the frame; with `by="amount"` they are revenue amounts. A product is High at or
    above the high threshold, Low below the low threshold, Medium otherwise.
    """

    by: Literal["quantile", "amount"]
    high: float
    low: float


@dataclass(frozen=True)
class Conditions:
    """Conditions of one rule; a condition left as None is not checked, all others must hold."""

    bucket: tuple[str, ...] | None = None
    change_at_least: float | None = None
    change_at_most: float | None = None
    rating_below: float | None = None
    rating_at_least: float | None = None
    price_vs_category_at_least: float | None = None
    price_vs_category_at_most: float | None = None
    new_product: bool | None = None

    @property
    def is_catch_all(self) -> bool:
        """Whether no condition is set, so the rule matches every product."""
        return all(getattr(self, name) is None for name in CONDITIONS)


@dataclass(frozen=True)
class Rule:
    """One decision rule: the action given to a product when all its conditions hold."""

    action: str
    when: Conditions = Conditions()


@dataclass(frozen=True)
class DecisionRules:
    """Bucket thresholds and the ordered rules; the first rule that matches a product wins."""

    buckets: BucketThresholds
    rules: tuple[Rule, ...]
    origin: str = "<decision rules>"

    def __post_init__(self) -> None:
        _validate_buckets(self.buckets, self.origin)
        if not self.rules:
            raise DecisionRulesError(self.origin, "rules: at least one rule is needed")
        for number, rule in enumerate(self.rules, start=1):
            _validate_rule(rule, number, self.origin)
            if rule.when.is_catch_all and number < len(self.rules):
                raise DecisionRulesError(
                    self.origin,
                    f"rule {number} has no conditions, so it matches every product and the "
                    f"rules after it can never apply; only the last rule may be a catch-all",
                )
        if not self.rules[-1].when.is_catch_all:
            raise DecisionRulesError(
                self.origin,
                f"rule {len(self.rules)} (the last) must be a catch-all with an empty 'when', "
                f"so that every product gets an action",
            )


def _validate_buckets(buckets: BucketThresholds, origin: str) -> None:
    if buckets.by == "quantile":
        for name, value in (("high_quantile", buckets.high), ("low_quantile", buckets.low)):
            if not 0 <= value <= 1:
                raise DecisionRulesError(
                    origin, f"buckets.{name} must be between 0 and 1, got {value}"
                )
        if buckets.low > buckets.high:
            raise DecisionRulesError(
                origin,
                f"buckets.low_quantile ({buckets.low}) is above "
                f"buckets.high_quantile ({buckets.high})",
            )
    elif buckets.by == "amount":
        if buckets.low > buckets.high:
            raise DecisionRulesError(
                origin,
                f"buckets.low_below ({buckets.low}) is above "
                f"buckets.high_at_least ({buckets.high})",
            )
    else:
        raise DecisionRulesError(origin, f"buckets: unknown method {buckets.by!r}")


def _validate_rule(rule: Rule, number: int, origin: str) -> None:
    if rule.action not in ACTIONS:
        raise DecisionRulesError(
            origin, f"rule {number}: action {rule.action!r} is not one of {list(ACTIONS)}"
        )
    when = rule.when
    if when.bucket is not None:
        unknown = [b for b in when.bucket if b not in BUCKETS]
        if unknown or not when.bucket:
            raise DecisionRulesError(
                origin,
                f"rule {number}: when.bucket must list buckets from {list(BUCKETS)}, "
                f"got {list(when.bucket)}",
            )
    for low_name, high_name, inclusive in (
        ("change_at_least", "change_at_most", True),
        ("rating_at_least", "rating_below", False),
        ("price_vs_category_at_least", "price_vs_category_at_most", True),
    ):
        low, high = getattr(when, low_name), getattr(when, high_name)
        if low is not None and high is not None and (low > high or (low == high and not inclusive)):
            raise DecisionRulesError(
                origin,
                f"rule {number}: when.{low_name} ({low}) and when.{high_name} ({high}) "
                f"leave no value, so the rule can never match",
            )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _parse_buckets(data: object, origin: str) -> BucketThresholds:
    if not isinstance(data, dict):
        raise DecisionRulesError(origin, "buckets must be a mapping of thresholds")
    quantile_keys = {"high_quantile", "low_quantile"}
    amount_keys = {"high_at_least", "low_below"}
    unknown = sorted(set(data) - quantile_keys - amount_keys)
    if unknown:
        raise DecisionRulesError(
            origin,
            f"buckets: unknown setting(s) {unknown}; known: {sorted(quantile_keys | amount_keys)}",
        )
    keys = set(data)
    if keys == quantile_keys:
        by: Literal["quantile", "amount"] = "quantile"
        high_key, low_key = "high_quantile", "low_quantile"
    elif keys == amount_keys:
        by = "amount"
        high_key, low_key = "high_at_least", "low_below"
    else:
        raise DecisionRulesError(
            origin,
            "buckets must give either high_quantile and low_quantile, or high_at_least and "
            f"low_below (and nothing else); got {sorted(keys)}",
        )
    for key in (high_key, low_key):
        if not _is_number(data[key]):
            raise DecisionRulesError(origin, f"buckets.{key} must be a number, got {data[key]!r}")
    return BucketThresholds(by=by, high=float(data[high_key]), low=float(data[low_key]))


def _parse_conditions(data: object, number: int, origin: str) -> Conditions:
    if data is None:
        return Conditions()
    if not isinstance(data, dict):
        raise DecisionRulesError(origin, f"rule {number}: 'when' must be a mapping of conditions")
    unknown = sorted(set(data) - set(CONDITIONS))
    if unknown:
        raise DecisionRulesError(
            origin, f"rule {number}: unknown condition(s) {unknown}; known: {list(CONDITIONS)}"
        )
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name == "bucket":
            buckets = [value] if isinstance(value, str) else value
            if not isinstance(buckets, list) or not all(isinstance(b, str) for b in buckets):
                raise DecisionRulesError(
                    origin, f"rule {number}: when.bucket must be a list of bucket names"
                )
            values[name] = tuple(buckets)
        elif name == "new_product":
            if not isinstance(value, bool):
                raise DecisionRulesError(
                    origin, f"rule {number}: when.new_product must be true or false"
                )
            values[name] = value
        else:
            if not _is_number(value):
                raise DecisionRulesError(
                    origin, f"rule {number}: when.{name} must be a number, got {value!r}"
                )
            values[name] = float(value)
    return Conditions(**values)


def parse_decision_rules(data: dict[str, Any], origin: str) -> DecisionRules:
    """Build DecisionRules from a parsed YAML mapping, naming `origin` and the setting in errors."""
    if not isinstance(data, dict):
        raise DecisionRulesError(origin, "the file must be a mapping with 'buckets' and 'rules'")
    unknown = sorted(set(data) - {"buckets", "rules"})
    if unknown:
        raise DecisionRulesError(
            origin, f"unknown setting(s) {unknown}; known: ['buckets', 'rules']"
        )
    for required in ("buckets", "rules"):
        if required not in data:
            raise DecisionRulesError(origin, f"missing required setting '{required}'")
    buckets = _parse_buckets(data["buckets"], origin)
    raw_rules = data["rules"]
    if not isinstance(raw_rules, list):
        raise DecisionRulesError(origin, "rules must be a list of rules")
    rules = []
    for number, raw in enumerate(raw_rules, start=1):
        if not isinstance(raw, dict):
            raise DecisionRulesError(origin, f"rule {number} must be a mapping with an 'action'")
        unknown = sorted(set(raw) - {"action", "when"})
        if unknown:
            raise DecisionRulesError(
                origin, f"rule {number}: unknown setting(s) {unknown}; known: ['action', 'when']"
            )
        if "action" not in raw:
            raise DecisionRulesError(origin, f"rule {number}: missing 'action'")
        action = raw["action"]
        if not isinstance(action, str):
            raise DecisionRulesError(origin, f"rule {number}: action must be text, got {action!r}")
        when = _parse_conditions(raw.get("when"), number, origin)
        rules.append(Rule(action=action, when=when))
    return DecisionRules(buckets=buckets, rules=tuple(rules), origin=origin)


def load_decision_rules(path: Path | None = None) -> DecisionRules:
    """Read a decision rules YAML file; None reads the default rules shipped with the package."""
    path = DEFAULT_RULES_PATH if path is None else Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise DecisionRulesError(str(path), f"cannot read the file ({error})") from error
    except yaml.YAMLError as error:
        raise DecisionRulesError(str(path), f"not valid YAML: {error}") from error
    return parse_decision_rules(data, str(path))


def _amount_text(amount: pl.Expr) -> pl.Expr:
    """An amount in whole units with thousands separators: 12340.4 -> "12,340"."""
    return (
        amount.round(0)
        .cast(pl.Int64)
        .cast(pl.String)
        .str.reverse()
        .str.replace_all(r"(\d{3})", "$1,")
        .str.reverse()
        .str.replace(r"^(-?),", "$1")
    )


def _percent_text(percent: pl.Expr) -> pl.Expr:
    """The size of a percentage to one decimal, without a trailing ".0": -18.04 -> "18"."""
    return percent.abs().round(1).cast(pl.String).str.replace(r"\.0$", "")


def _days_text(days: pl.Expr) -> pl.Expr:
    return pl.format(
        "{} {}", days, pl.when(days == 1).then(pl.lit("day")).otherwise(pl.lit("days"))
    )


def _threshold_text(value: float) -> str:
    return str(float(value))


def _horizon() -> pl.Expr:
    return _days_text(pl.col("horizon_days"))


def _bucket_phrase() -> pl.Expr:
    return pl.format(
        "{} expected revenue ({} over the next {})",
        pl.col("performance_bucket"),
        _amount_text(pl.col("predicted_revenue")),
        _horizon(),
    )


def _change_phrase() -> pl.Expr:
    change = pl.col(_CHANGE)
    return (
        pl.when(change.is_null())
        .then(pl.format("no revenue in the last {} to compare the forecast with", _horizon()))
        .when(change.abs().round(1) == 0)
        .then(pl.format("predicted revenue level with the last {}", _horizon()))
        .otherwise(
            pl.format(
                "a predicted {} of {}% on the last {}",
                pl.when(change > 0).then(pl.lit("rise")).otherwise(pl.lit("fall")),
                _percent_text(change),
                _horizon(),
            )
        )
    )


def _price_phrase() -> pl.Expr:
    position = pl.col(_PRICE_VS_CATEGORY)
    return (
        pl.when(position.abs().round(1) == 0)
        .then(pl.format("price is at the {} median", pl.col("category")))
        .otherwise(
            pl.format(
                "price is {}% {} the {} median",
                _percent_text(position),
                pl.when(position > 0).then(pl.lit("above")).otherwise(pl.lit("below")),
                pl.col("category"),
            )
        )
    )


def _rating_phrase(when: Conditions) -> pl.Expr:
    limits = []
    if when.rating_at_least is not None:
        limits.append(f"at least {_threshold_text(when.rating_at_least)}")
    if when.rating_below is not None:
        limits.append(f"below {_threshold_text(when.rating_below)}")
    rating = pl.col("avg_rating").round(2).cast(pl.String)
    return pl.format("rating {} is {}", rating, pl.lit(" and ".join(limits)))


def _new_product_phrase(new_product: bool) -> pl.Expr:
    age = _days_text(pl.col("product_age_days"))
    if new_product:
        return pl.format(
            "new launch on sale for {}, so the forecast ({} over the next {}) is its run rate "
            "since launch",
            age,
            _amount_text(pl.col("predicted_revenue")),
            _horizon(),
        )
    return pl.format("established product on sale for {}", age)


def _phrases(when: Conditions) -> list[pl.Expr]:
    """The facts a rule looks at, in reading order; a catch-all states bucket and change."""
    if when.is_catch_all:
        return [_bucket_phrase(), _change_phrase()]
    phrases = []
    if when.new_product is not None:
        phrases.append(_new_product_phrase(when.new_product))
    if when.rating_below is not None or when.rating_at_least is not None:
        phrases.append(_rating_phrase(when))
    if when.bucket is not None:
        phrases.append(_bucket_phrase())
    if when.change_at_least is not None or when.change_at_most is not None:
        phrases.append(_change_phrase())
    if when.price_vs_category_at_least is not None or when.price_vs_category_at_most is not None:
        phrases.append(_price_phrase())
    return phrases


def _reason(when: Conditions) -> pl.Expr:
    """One sentence joining the rule's facts: "A, B and C."; starts upper case, ends with "."."""
    phrases = _phrases(when)
    parts: list[pl.Expr | str] = []
    for index, phrase in enumerate(phrases):
        if index:
            parts.append(" and " if index == len(phrases) - 1 else ", ")
        parts.append(phrase)
    sentence = pl.concat_str([pl.lit(p) if isinstance(p, str) else p for p in parts])
    return pl.concat_str(
        sentence.str.head(1).str.to_uppercase(), sentence.str.slice(1), pl.lit(".")
    )


def _matches(when: Conditions) -> pl.Expr:
    """True where every condition holds; a null fact never satisfies a condition on it."""
    checks: list[pl.Expr] = [pl.lit(True)]
    if when.bucket is not None:
        checks.append(pl.col("performance_bucket").is_in(list(when.bucket)))
    bounds = (
        (when.change_at_least, pl.col(_CHANGE), "ge"),
        (when.change_at_most, pl.col(_CHANGE), "le"),
        (when.rating_below, pl.col("avg_rating"), "lt"),
        (when.rating_at_least, pl.col("avg_rating"), "ge"),
        (when.price_vs_category_at_least, pl.col(_PRICE_VS_CATEGORY), "ge"),
        (when.price_vs_category_at_most, pl.col(_PRICE_VS_CATEGORY), "le"),
    )
    for limit, value, how in bounds:
        if limit is not None:
            checks.append(getattr(value, how)(limit))
    if when.new_product is not None:
        is_new = pl.col("forecast_method") == NEW_PRODUCT_METHOD
        checks.append(is_new.fill_null(False) == when.new_product)
    return pl.all_horizontal(checks).fill_null(False)


def _bucket(buckets: BucketThresholds) -> pl.Expr:
    predicted = pl.col("predicted_revenue")
    if buckets.by == "quantile":
        high: pl.Expr | float = predicted.quantile(buckets.high, interpolation="linear")
        low: pl.Expr | float = predicted.quantile(buckets.low, interpolation="linear")
    else:
        high, low = buckets.high, buckets.low
    return (
        pl.when(predicted >= high)
        .then(pl.lit("High"))
        .when(predicted < low)
        .then(pl.lit("Low"))
        .otherwise(pl.lit("Medium"))
    )


def _first_match(rules: DecisionRules, value: Callable[[Rule], pl.Expr]) -> pl.Expr:
    *conditional, catch_all = rules.rules
    result = value(catch_all)
    for rule in reversed(conditional):
        result = pl.when(_matches(rule.when)).then(value(rule)).otherwise(result)
    return result


def _check_forecast(forecast: pl.DataFrame) -> None:
    missing = [c for c in FORECAST_COLUMNS if c not in forecast.columns]
    if missing:
        raise ValueError(f"forecast is missing column(s) {missing}")
    unpredicted = forecast.filter(pl.col("predicted_revenue").is_null())
    if unpredicted.height:
        ids = unpredicted.get_column("product_id").head(5).to_list()
        raise ValueError(f"forecast has no predicted_revenue for product(s) {ids}")


def decide(forecast: pl.DataFrame, rules: DecisionRules) -> pl.DataFrame:
    """One decision row per forecast product: derived facts, action and reason, DECISION_COLUMNS.

    Raises ValueError when the forecast lacks a needed column or a predicted revenue.
    """
    _check_forecast(forecast)
    last = pl.col("revenue_last_period")
    median_price = pl.col("current_price").median().over("category")
    facts = forecast.select(FORECAST_COLUMNS).with_columns(
        pl.when(last > 0)
        .then(100 * (pl.col("predicted_revenue") - last) / last)
        .round(2)
        .alias(_CHANGE),
        pl.when(median_price > 0)
        .then(100 * (pl.col("current_price") / median_price - 1))
        .round(2)
        .alias(_PRICE_VS_CATEGORY),
        _bucket(rules.buckets).alias("performance_bucket"),
    )
    decided = facts.with_columns(
        _first_match(rules, lambda rule: pl.lit(rule.action)).alias("recommended_action"),
        _first_match(rules, lambda rule: _reason(rule.when)).alias("action_reason"),
    )
    return decided.select(pl.col(name).cast(dtype) for name, dtype in DECISION_SCHEMA.items())
