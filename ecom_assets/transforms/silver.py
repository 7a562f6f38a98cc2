"""Bronze rows to the canonical order-line schema, and every row that did not make it, with why.

`annotate_orders` maps each layout's text columns onto the canonical fields, parses them with the
layout's formats and gives every row a `reason` (null when the row is good); `split_orders` then
separates the clean lines from the rejected ones. A row fails on its first broken field, in the
order of REJECTION_REASONS; among good rows, a line key seen again is a duplicate. Given the
silver already loaded, only new bronze rows need annotating: loaded line keys and category
spellings are honoured, so loading file by file gives the tables of loading all files at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import polars as pl

from ecom_assets.layouts import CANONICAL_FIELDS, Layout
from ecom_assets.layouts.sniff import AUTO, ISO_T, TRAILING_ZONE
from ecom_assets.transforms.bronze import LINEAGE_COLUMNS, LINEAGE_SCHEMA

REJECTION_REASONS = {
    "excluded_status": "the layout excludes rows like it (a cancelled, voided or refunded order)",
    "missing_order_id": "the order id is blank",
    "missing_product": "neither a product id nor a product name",
    "invalid_date": "the order date is blank or not a date in the layout's formats",
    "ambiguous_date": "the file's dates read both day-first and month-first, and this one differs",
    "future_date": "the order date is after the day the file was ingested",
    "invalid_quantity": "the quantity is blank, not a whole number, zero, or negative on a sale",
    "invalid_price": "the unit price (or line total) is blank, not a number, zero or negative",
    "total_mismatch": "the line total disagrees with price x quantity beyond the layout tolerance",
    "not_a_product": "a line that is not a product (postage, a fee, a voucher), by the layout",
    "duplicate_row": "an exact copy of an earlier row with the same line key",
    "payment_repeat": "the same line again for another payment of its order (the layout says so)",
    "resent_line": "a line key already ingested from an earlier row, sent again with other values",
}

SILVER_COLUMNS = {
    "order_id": pl.String,
    "line_id": pl.String,
    "order_date": pl.Date,
    "customer_id": pl.String,
    "product_id": pl.String,
    "product_name": pl.String,
    "category": pl.String,
    "price": pl.Float64,
    "quantity": pl.Int64,
    "revenue": pl.Float64,
    "rating": pl.Float64,
    "reviews": pl.Int64,
    "payment_method": pl.String,
    "city": pl.String,
    "line_type": pl.String,
}
REJECTED_COLUMNS = {
    "line_id": pl.String,
    "reason": pl.String,
    "field": pl.String,
    "value": pl.String,
    "raw_values": pl.String,
}
_OPTIONAL_TEXT_FIELDS = ("customer_id", "payment_method", "city")
RAW_PREFIX = "_raw/"
ROW_KEY = ["_source_file", "_source_row", "_ingested_at"]
KEY_HASH = "_key_hash"


@dataclass(frozen=True)
class _Rule:
    reason: str
    broken: pl.Expr
    field: str
    value: pl.Expr | None = None


def _cleaned(layout: Layout, column: str) -> pl.Expr:
    value = pl.col(column).str.strip_chars()
    return pl.when(value.is_in(list(layout.na_values))).then(None).otherwise(value)


def _column_text(layout: Layout, column: str, filled: bool, columns: list[str]) -> pl.Expr:
    """A source column's trimmed text (null when missing), filled forward within its order
    (same file, in row order) when `filled`."""
    if column not in columns:
        return pl.lit(None, dtype=pl.String)
    value = _cleaned(layout, column)
    order = layout.source_columns.get("order_id")
    if not filled or order is None or order not in columns:
        return value
    within_order = [pl.col("_source_file"), _cleaned(layout, order)]
    return value.forward_fill().over(within_order, order_by="_source_row")


def _text(layout: Layout, field: str, columns: list[str]) -> pl.Expr:
    """A canonical field's text: the layout's constant for it, or its source column's text."""
    if field in layout.constants:
        return pl.lit(layout.constants[field], dtype=pl.String)
    source = layout.source_columns.get(field)
    if source is None:
        return pl.lit(None, dtype=pl.String)
    return _column_text(layout, source, field in layout.fill_forward, columns)


def _source_text(layout: Layout, column: str, columns: list[str]) -> pl.Expr:
    """A source column named by a setting (a filter, a line key part), trimmed, filled forward
    when the layout lists it in fill_forward."""
    return _column_text(layout, column, column in layout.fill_forward, columns)


def _decimal_evidence(mark: str, grouping: str) -> str:
    """A pattern for amounts that can only be read with `mark` as the decimal mark: both marks
    with `mark` last, 1-2 or 4+ digits after it, or a leading zero before it ("1.250" is not
    evidence: it may be 1250 or 1.25)."""
    m, g = re.escape(mark), re.escape(grouping)
    return (
        rf"^[-+]?\d{{1,3}}({g}\d{{3}})+{m}\d+$"
        rf"|^[-+]?\d*{m}(\d{{1,2}}|\d{{4,}})$"
        rf"|^[-+]?0{m}\d+$"
    )


_COMMA_DECIMAL = _decimal_evidence(",", ".")
_POINT_DECIMAL = _decimal_evidence(".", ",")
_CURRENCY = r"^[$€£]\s*|\s*[$€£]$|\s"


def _decimal_comma(layout: Layout, columns: list[str]) -> pl.Expr:
    """Whether each row's file writes amounts with a decimal comma: the layout says so, or (for
    `decimal: auto`) some price or total in the file reads only that way and none the other."""
    if layout.decimal != AUTO:
        return pl.lit(layout.decimal == ",")
    amounts = [
        _text(layout, f, columns).str.replace_all(_CURRENCY, "")
        for f in ("price", "line_total")
        if f in layout.source_columns
    ]
    if not amounts:
        return pl.lit(False)
    comma = pl.any_horizontal([a.str.contains(_COMMA_DECIMAL) for a in amounts])
    point = pl.any_horizontal([a.str.contains(_POINT_DECIMAL) for a in amounts])
    return (comma.fill_null(False).any() & ~point.fill_null(False).any()).over("_source_file")


def _number(text: pl.Expr, layout: Layout, decimal_comma: pl.Expr) -> pl.Expr:
    """A number from its text: currency signs and spaces dropped, the layout's thousands mark
    (or, for `decimal: auto`, grouping marks in a valid grouping) removed, the decimal mark read
    as the file writes it."""
    text = text.str.replace_all(_CURRENCY, "")
    if layout.thousands:
        text = text.str.replace_all(layout.thousands, "", literal=True)
    grouped_points = text.str.contains(r"^[-+]?\d{1,3}(\.\d{3})+(,\d+)?$")
    grouped_commas = text.str.contains(r"^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$")
    comma_text = (
        pl.when(grouped_points).then(text.str.replace_all(".", "", literal=True)).otherwise(text)
    ).str.replace(",", ".", literal=True)
    point_text = (
        pl.when(grouped_commas).then(text.str.replace_all(",", "", literal=True)).otherwise(text)
    )
    return (
        pl.when(decimal_comma).then(comma_text).otherwise(point_text).cast(pl.Float64, strict=False)
    )


def _date_order(fmt: str) -> str | None:
    """'day' or 'month' for a format whose day and month come before the year, else None."""
    if "%d" not in fmt or "%m" not in fmt or fmt.lstrip().startswith(("%Y", "%y")):
        return None
    return "day" if fmt.index("%d") < fmt.index("%m") else "month"


def _parse_dates(texts: list[pl.Expr], formats: list[str]) -> pl.Expr:
    parsed = [
        text.str.to_datetime(fmt, strict=False).dt.date() for fmt in formats for text in texts
    ]
    return pl.coalesce(parsed) if len(parsed) > 1 else parsed[0]


def _date(text: pl.Expr, layout: Layout) -> tuple[pl.Expr, pl.Expr]:
    """(order date, whether it is ambiguous) from a date text in the layout's formats.

    For formats with a time, a trailing time-zone offset is dropped and an ISO `T` read as a
    space (the patterns `ecom layout suggest` matches its formats with), so the date is the
    local date the shop wrote; fractions of a second are read with `.%f` or without it. When the
    formats hold both a day-first and a month-first order, each file's own values decide: the
    order that reads more of its dates wins; when both read all of them (no day above 12), a
    date the two orders read differently is ambiguous (null, flagged)."""
    formats = list(layout.date_formats)
    texts = [text]
    if any("%H" in f for f in formats):
        local = text.str.replace(ISO_T, "${1} ").str.replace(TRAILING_ZONE, "${1}")
        texts = [local, local.str.replace(r"(:\d\d)\.\d+$", "${1}")]
    orders = {_date_order(f) for f in formats}
    if not {"day", "month"} <= orders:
        return _parse_dates(texts, formats), pl.lit(False)
    day = _parse_dates(texts, [f for f in formats if _date_order(f) != "month"])
    month = _parse_dates(texts, [f for f in formats if _date_order(f) != "day"])
    day_count = day.is_not_null().sum().over("_source_file")
    month_count = month.is_not_null().sum().over("_source_file")
    tie = day_count == month_count
    ambiguous = tie & day.is_not_null() & (day != month)
    chosen = (
        pl.when(day_count > month_count)
        .then(day)
        .when(month_count > day_count)
        .then(month)
        .when(~ambiguous)
        .then(day)
    )
    return chosen, ambiguous


def _slug(text: pl.Expr) -> pl.Expr:
    return text.str.to_lowercase().str.replace_all(r"[^a-z0-9]+", "-").str.strip_chars("-")


def category_key(category: pl.Expr) -> pl.Expr:
    """A spelling-insensitive key: case, spacing, '&' vs 'and' and plural 's' do not matter."""
    return (
        category.str.to_lowercase()
        .str.replace_all("&", " and ", literal=True)
        .str.replace_all(r"s\b", "")
        .str.replace_all(r"[^a-z0-9]", "")
    )


def _setting_columns(layout: Layout) -> set[str]:
    """Source columns the layout's settings read besides its mapped fields."""
    return (
        {f.column for f in layout.exclude_rows}
        | layout.source_field_columns(layout.line_key)
        | layout.source_field_columns(layout.fill_forward)
    )


def _exported_row_hash(layout: Layout, columns: list[str]) -> pl.Expr:
    """For a layout whose rows repeat once per payment, a hash of the whole row as exported:
    rows equal in every canonical field may still differ in payment columns no field maps, so
    only this tells an exact copy from a repeat for another payment. Null for other layouts."""
    if not layout.rows_repeat_per_payment:
        return pl.lit(None, dtype=pl.UInt64)
    exported = [c for c in columns if not c.startswith("_")]
    return pl.struct(*exported).hash()


def _line_key_part(name: str, layout: Layout, columns: list[str]) -> pl.Expr:
    if name == "product_id":
        return pl.col("product_id")
    if name in CANONICAL_FIELDS:
        return pl.col(f"_text_{name}")
    return _source_text(layout, name, columns)


def _layout_rows(bronze: pl.LazyFrame, layout: Layout, columns: list[str]) -> pl.LazyFrame:
    """The rows of one layout with canonical typed fields, the raw texts needed for reasons."""
    fields = [*layout.source_columns, *layout.constants]
    text = {f: _text(layout, f, columns) for f in fields}
    mapped = set(layout.source_columns.values()) | _setting_columns(layout)
    raw = [c for c in columns if c in mapped]
    product_id = (
        pl.coalesce(text["product_id"], _slug(text["product_name"]))
        if "product_id" in text and "product_name" in text
        else text["product_id"]
        if "product_id" in text
        else _slug(text["product_name"])
    )
    if layout.product_id_case != "as_exported":
        product_id = getattr(product_id.str, f"to_{layout.product_id_case}case")()
    product_name = (
        pl.coalesce(text["product_name"], text["product_id"])
        if "product_name" in text and "product_id" in text
        else text["product_name"]
        if "product_name" in text
        else text["product_id"]
    )
    decimal_comma = _decimal_comma(layout, columns)

    def number(field: str) -> pl.Expr:
        if field not in text:
            return pl.lit(None, pl.Float64)
        return _number(text[field], layout, decimal_comma)

    order_id = text["order_id"]
    is_cancellation = (
        order_id.str.starts_with(layout.cancelled_order_prefix)
        if layout.cancelled_order_prefix
        else pl.lit(False)
    )
    order_date, ambiguous_date = _date(text["order_date"], layout)
    return (
        bronze.filter(pl.col("_layout") == layout.name)
        .with_columns(
            order_id.alias("order_id"),
            order_date.alias("order_date"),
            ambiguous_date.alias("_ambiguous_date"),
            product_id.alias("product_id"),
            product_name.alias("product_name"),
            *(text.get(f, pl.lit(None, pl.String)).alias(f) for f in _OPTIONAL_TEXT_FIELDS),
            text.get("category", pl.lit(layout.default_category))
            .fill_null(layout.default_category)
            .str.replace_all(r"\s+", " ")
            .alias("_category_text"),
            number("quantity").alias("_quantity_number"),
            number("price").alias("_price_number"),
            number("line_total").alias("_line_total"),
            number("rating").alias("_rating_number"),
            number("reviews").alias("_reviews_number"),
            (
                is_cancellation | pl.lit(layout.negative_quantity_is_return)
                if layout.cancelled_order_prefix or layout.negative_quantity_is_return
                else pl.lit(False)
            ).alias("_may_return"),
            pl.lit(layout.rows_repeat_per_payment).alias("_repeats_per_payment"),
            _exported_row_hash(layout, columns).alias("_exported_row_hash"),
            *(pl.col(c).alias(f"{RAW_PREFIX}{layout.name}/{c}") for c in raw),
            *(text[f].alias(f"_text_{f}") for f in text),
        )
        .with_columns(
            pl.concat_str(
                [_line_key_part(f, layout, columns) for f in layout.line_key], separator="|"
            ).alias("line_id"),
            _not_a_product(layout).alias("_not_a_product"),
        )
        .pipe(_derive_amounts, layout)
        .pipe(_flag_broken_rows, layout, columns)
    )


def _exclusion_rules(layout: Layout, columns: list[str]) -> list[_Rule]:
    """One rule per `exclude_rows` filter on a column the rows have."""
    rules = []
    for row_filter in layout.exclude_rows:
        if row_filter.column not in columns:
            continue
        value = _source_text(layout, row_filter.column, columns)
        if row_filter.rule == "present":
            matches = value.is_not_null()
        else:
            listed = value.str.to_lowercase().is_in([v.strip().lower() for v in row_filter.values])
            matches = listed if row_filter.rule == "in" else ~listed
        rules.append(_Rule("excluded_status", matches.fill_null(False), row_filter.column, value))
    return rules


def _not_a_product(layout: Layout) -> pl.Expr:
    """Whether a line is not a product by the layout's `non_products` codes or pattern."""
    rules = layout.non_products
    matches = pl.lit(False)
    if rules.codes:
        codes = [code.strip().lower() for code in rules.codes]
        matches = matches | pl.col("product_id").str.to_lowercase().is_in(codes)
    if rules.pattern:
        pattern = f"(?i){rules.pattern}"
        by_pattern = pl.col("product_id").str.contains(pattern) | pl.col(
            "product_name"
        ).str.contains(pattern)
        matches = matches | by_pattern
    return matches.fill_null(False)


def _derive_amounts(frame: pl.LazyFrame, layout: Layout) -> pl.LazyFrame:
    quantity = pl.col("_quantity_number")
    if layout.revenue == "line_total":
        price = (pl.col("_line_total") / quantity).abs()
        revenue = pl.col("_line_total")
    else:
        price = pl.col("_price_number")
        revenue = price * quantity
    rating = pl.col("_rating_number")
    reviews = pl.col("_reviews_number")
    return frame.with_columns(
        price.alias("price"),
        quantity.cast(pl.Int64, strict=False).alias("quantity"),
        revenue.alias("revenue"),
        pl.when(rating.is_between(1, 5)).then(rating).alias("rating"),
        pl.when(reviews >= 0).then(reviews).cast(pl.Int64, strict=False).alias("reviews"),
        pl.when(quantity < 0).then(pl.lit("return")).otherwise(pl.lit("sale")).alias("line_type"),
    )


def _rules(layout: Layout, columns: list[str]) -> list[_Rule]:
    quantity = pl.col("_quantity_number")
    bad_quantity = (
        quantity.is_null()
        | (quantity != quantity.round())
        | (quantity == 0)
        | ((quantity < 0) & ~pl.col("_may_return"))
    )
    if layout.revenue == "line_total":
        amount, amount_field = pl.col("_line_total"), "line_total"
        bad_price = amount.is_null() | (amount == 0) | ((amount > 0) != (quantity > 0))
    else:
        amount, amount_field = pl.col("_price_number"), "price"
        bad_price = amount.is_null() | (amount <= 0)
    rules = [
        *_exclusion_rules(layout, columns),
        _Rule("missing_order_id", pl.col("order_id").is_null(), "order_id"),
        _Rule("missing_product", pl.col("product_id").is_null(), "product_id"),
        _Rule("ambiguous_date", pl.col("_ambiguous_date"), "order_date"),
        _Rule("invalid_date", pl.col("order_date").is_null(), "order_date"),
        _Rule(
            "future_date",
            pl.col("order_date") > pl.col("_ingested_at").dt.date(),
            "order_date",
        ),
        _Rule("invalid_quantity", bad_quantity, "quantity"),
        _Rule("invalid_price", bad_price, amount_field),
    ]
    if layout.revenue == "price_times_quantity" and "line_total" in layout.source_columns:
        gap = (pl.col("_line_total") - pl.col("price") * quantity).abs()
        mismatch = pl.col("_line_total").is_not_null() & (gap > layout.total_tolerance + 1e-9)
        rules.append(_Rule("total_mismatch", mismatch, "line_total"))
    rules.append(_Rule("not_a_product", pl.col("_not_a_product"), "product_id"))
    return rules


def _flag_broken_rows(frame: pl.LazyFrame, layout: Layout, columns: list[str]) -> pl.LazyFrame:
    rules = _rules(layout, columns)
    sources = {f: c for f, c in layout.source_columns.items() if c in columns}
    derived = set(frame.collect_schema().names())

    def first_broken(value_of: list[pl.Expr]) -> pl.Expr:
        result = pl.lit(None, dtype=pl.String)
        for rule, value in reversed(list(zip(rules, value_of, strict=True))):
            result = pl.when(rule.broken).then(value).otherwise(result)
        return result

    return frame.with_columns(
        first_broken([pl.lit(r.reason) for r in rules]).alias("reason"),
        first_broken([pl.lit(sources.get(r.field, r.field)) for r in rules]).alias("field"),
        first_broken(
            [
                r.value
                if r.value is not None
                else pl.col(sources[r.field])
                if r.field in sources
                else pl.col(r.field).cast(pl.String)
                if r.field in derived
                else pl.lit(None, pl.String)
                for r in rules
            ]
        ).alias("value"),
    )


def _canonical_hash(without: tuple[str, ...] = ()) -> pl.Expr:
    """A hash of a line's canonical values (but `without`): equal for an exact copy, whatever
    its file."""
    kept = {c: t for c, t in SILVER_COLUMNS.items() if c not in without}
    return pl.struct(*(pl.col(c).cast(t) for c, t in kept.items())).hash()


def _comparison_hash() -> pl.Expr:
    """The hash two rows with one line key are compared by: every canonical value, but the
    payment method for a layout whose rows repeat once per payment."""
    return (
        pl.when(pl.col("_repeats_per_payment"))
        .then(_canonical_hash(without=("payment_method",)))
        .otherwise(_canonical_hash())
    )


def _normalise_categories(frame: pl.LazyFrame, loaded: pl.LazyFrame | None) -> pl.LazyFrame:
    """Each category spelling becomes the most common spelling among rows with the same key, or
    the spelling silver already uses for that key, so a new file never renames loaded lines.

    The spellings are counted first (a small result), then mapped row by row, so the rows stream.
    """
    counts = (
        frame.group_by("_category_text")
        .agg(pl.len().alias("_n"))
        .with_columns(category_key(pl.col("_category_text")).alias("_category_key"))
        .collect(engine="streaming")
    )
    spellings = (
        counts.sort(["_category_key", "_n", "_category_text"], descending=[False, True, False])
        .group_by("_category_key", maintain_order=True)
        .agg(pl.col("_category_text").first().alias("category"))
    )
    if loaded is not None:
        in_silver = (
            loaded.select(pl.col("category").unique())
            .collect(engine="streaming")
            .with_columns(category_key(pl.col("category")).alias("_category_key"))
            .group_by("_category_key")
            .agg(pl.col("category").min().alias("_loaded_category"))
        )
        spellings = spellings.join(in_silver, on="_category_key", how="left").select(
            "_category_key", pl.coalesce("_loaded_category", "category").alias("category")
        )
    mapping = counts.join(spellings, on="_category_key").select("_category_text", "category")
    return frame.join(mapping.lazy(), on="_category_text", how="left")


def repeated_key_hashes(frame: pl.LazyFrame, key: str) -> pl.LazyFrame:
    """The 64-bit hashes (column KEY_HASH) of the `key` values that occur more than once.

    Counting hashes takes a tenth of the memory of counting the keys themselves; a hash collision
    only brings two more rows into the exact comparison by key that follows
    (`rows_with_key_hashes`)."""
    return (
        frame.group_by(pl.col(key).hash().alias(KEY_HASH))
        .agg(pl.len().alias("_n"))
        .filter(pl.col("_n") > 1)
        .select(KEY_HASH)
    )


def rows_with_key_hashes(frame: pl.LazyFrame, key: str, hashes: pl.DataFrame) -> pl.LazyFrame:
    """The rows of `frame` whose `key` hashes to one of `hashes` (a KEY_HASH column)."""
    return (
        frame.with_columns(pl.col(key).hash().alias(KEY_HASH))
        .join(hashes.lazy(), on=KEY_HASH, how="semi")
        .drop(KEY_HASH)
    )


def _duplicate_reasons(suspects: pl.DataFrame, loaded_hashes: pl.DataFrame) -> pl.DataFrame:
    """Among good rows sharing a line key, the duplicates (a key silver already holds, or every
    row after the first in file-name then row order): an exact copy of an earlier row, a repeat
    of the first one for another payment, or a re-send with other values."""
    file_rank = pl.col("_source_file").rank("dense").cast(pl.Int64)
    ordered = (
        suspects.with_columns(
            (file_rank * 10_000_000_000 + pl.col("_source_row")).alias("_position"),
            pl.coalesce("_exported_row_hash", _canonical_hash()).alias("_full_hash"),
            _comparison_hash().alias("_row_hash"),
        )
        .join(loaded_hashes, on="line_id", how="left")
        .with_columns(
            pl.when(pl.col("_repeats_per_payment"))
            .then(pl.col("_loaded_payment_free_hash"))
            .otherwise(pl.col("_loaded_hash"))
            .alias("_loaded_row_hash")
        )
    )
    first = pl.col("_position").min().over("line_id")
    first_hash = pl.coalesce(
        pl.col("_loaded_row_hash"),
        pl.col("_row_hash").get(pl.col("_position").arg_min()).over("line_id"),
    )
    duplicate = (pl.col("_position") != first) | pl.col("_loaded_hash").is_not_null()
    exact_copy = (
        pl.col("_position") != pl.col("_position").min().over("line_id", "_full_hash")
    ) | (pl.col("_full_hash") == pl.col("_loaded_hash"))
    same_but_payment = pl.col("_row_hash") == first_hash
    reason = (
        pl.when(exact_copy)
        .then(pl.lit("duplicate_row"))
        .when(same_but_payment & pl.col("_repeats_per_payment"))
        .then(pl.lit("payment_repeat"))
        .when(same_but_payment)
        .then(pl.lit("duplicate_row"))
        .otherwise(pl.lit("resent_line"))
    )
    return (
        ordered.with_columns(reason.alias("_duplicate"), duplicate.alias("_is_duplicate"))
        .filter(pl.col("_is_duplicate"))
        .select(*ROW_KEY, "_duplicate")
    )


def _flag_duplicates(frame: pl.LazyFrame, loaded: pl.LazyFrame | None) -> pl.LazyFrame:
    """Among good rows, every row whose line key silver already holds, and every later row with a
    key seen earlier in the batch, is a duplicate: an exact copy of the first one, or a re-send.

    Only the rows whose key hash repeats (few) are compared, by key, in memory; the rest stream
    past (see `repeated_key_hashes`)."""
    good = frame.filter(pl.col("reason").is_null())
    repeated = repeated_key_hashes(good, "line_id")
    loaded_hashes = pl.DataFrame(
        schema={
            "line_id": pl.String,
            "_loaded_hash": pl.UInt64,
            "_loaded_payment_free_hash": pl.UInt64,
        }
    )
    if loaded is not None:
        loaded_hashes = (
            loaded.join(good.select("line_id"), on="line_id", how="semi")
            .select(
                "line_id",
                _canonical_hash().alias("_loaded_hash"),
                _canonical_hash(without=("payment_method",)).alias("_loaded_payment_free_hash"),
            )
            .collect(engine="streaming")
        )
        in_silver = loaded_hashes.lazy().select(pl.col("line_id").hash().alias(KEY_HASH))
        repeated = pl.concat([repeated, in_silver]).unique()
    suspect_keys = repeated.collect(engine="streaming")
    suspects = rows_with_key_hashes(good, "line_id", suspect_keys).collect(engine="streaming")
    duplicates = _duplicate_reasons(suspects, loaded_hashes)
    is_duplicate = pl.col("_duplicate").is_not_null()
    return frame.join(duplicates.lazy(), on=ROW_KEY, how="left").with_columns(
        pl.coalesce("_duplicate", "reason").alias("reason"),
        pl.when(is_duplicate).then(pl.lit("line_id")).otherwise(pl.col("field")).alias("field"),
        pl.when(is_duplicate).then(pl.col("line_id")).otherwise(pl.col("value")).alias("value"),
    )


def _in_memory(frame: pl.LazyFrame) -> pl.LazyFrame:
    return frame


def annotate_orders(
    bronze: pl.LazyFrame,
    layouts: Mapping[str, Layout],
    loaded: pl.LazyFrame | None = None,
    stage: Callable[[pl.LazyFrame], pl.LazyFrame] = _in_memory,
) -> pl.LazyFrame:
    """Every bronze row with canonical fields, a normalised category and its rejection reason.

    `loaded` is silver as already loaded when `bronze` holds only new rows: its category
    spellings stay, and a line key it holds makes a new row a duplicate or a re-send. `stage`
    may write the parsed rows somewhere and return a scan of them (the asset writes a temporary
    Parquet file): the category and duplicate passes then read columns instead of parsing the
    bronze text again, and no pass holds every row in memory.
    """
    columns = bronze.collect_schema().names()
    keep = [
        c for c in {**SILVER_COLUMNS, **REJECTED_COLUMNS} if c not in ("category", "raw_values")
    ]
    per_layout = [
        _layout_rows(bronze, layout, columns).select(
            *keep,
            "_category_text",
            "_repeats_per_payment",
            "_exported_row_hash",
            *LINEAGE_COLUMNS,
            pl.selectors.starts_with(RAW_PREFIX),
        )
        for layout in layouts.values()
        if layout.required_headers() <= set(columns)
    ]
    if not per_layout:
        return pl.LazyFrame(
            schema={
                **SILVER_COLUMNS,
                **{c: t for c, t in REJECTED_COLUMNS.items() if c != "raw_values"},
                "_category_text": pl.String,
                "_repeats_per_payment": pl.Boolean,
                "_exported_row_hash": pl.UInt64,
                **LINEAGE_SCHEMA,
            }
        )
    combined = stage(pl.concat(per_layout, how="diagonal"))
    return combined.pipe(_normalise_categories, loaded).pipe(_flag_duplicates, loaded)


def unplaced_bronze(
    bronze: pl.LazyFrame, orders: pl.LazyFrame, rejected: pl.LazyFrame
) -> pl.LazyFrame | None:
    """The bronze rows silver has not placed yet (in neither orders nor rejected orders), or None
    when silver must be rebuilt because it holds an ingestion that bronze no longer has (bronze
    was rebuilt under it).

    A load is complete when silver holds as many rows of its ingestion (`_ingested_at`) as bronze;
    only the ingestions where it does not are compared row by row. So a new export's rows are
    found, and so are the rest of a load that died between silver's two commits: the next run
    finishes it, with the rows already placed left as they are."""
    batch = "_ingested_at"
    in_bronze = bronze.group_by(batch).agg(pl.len().alias("_bronze_rows"))
    placed = pl.concat([orders.select(ROW_KEY), rejected.select(ROW_KEY)])
    in_silver = placed.group_by(batch).agg(pl.len().alias("_silver_rows"))
    batches = in_bronze.join(in_silver, on=batch, how="full", coalesce=True).collect()
    if batches.filter(pl.col("_bronze_rows").is_null()).height:
        return None
    incomplete = batches.filter(
        pl.col("_silver_rows").fill_null(0) != pl.col("_bronze_rows")
    ).select(batch)
    open_batches = incomplete.lazy()
    already = placed.join(open_batches, on=batch, how="semi")
    return bronze.join(open_batches, on=batch, how="semi").join(already, on=ROW_KEY, how="anti")


def _raw_values(columns: list[str]) -> pl.Expr:
    """Each row's own export fields as JSON, from its layout's `_raw/<layout>/<column>` columns."""
    by_layout: dict[str, list[pl.Expr]] = {}
    for name in columns:
        if name.startswith(RAW_PREFIX):
            layout, column = name.removeprefix(RAW_PREFIX).split("/", 1)
            by_layout.setdefault(layout, []).append(pl.col(name).alias(column))
    per_layout = [
        pl.when(pl.col("_layout") == layout).then(pl.struct(fields).struct.json_encode())
        for layout, fields in by_layout.items()
    ]
    return pl.coalesce(per_layout) if per_layout else pl.lit(None, dtype=pl.String)


def split_orders(annotated: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """(silver orders, rejected orders) from an annotated frame: good rows (in no particular
    order) and the rest, in file and row order.

    The raw fields are encoded as JSON for rejected rows only (a few percent of the rows)."""
    silver = annotated.filter(pl.col("reason").is_null()).select(
        *(pl.col(c).cast(t) for c, t in SILVER_COLUMNS.items()), *LINEAGE_COLUMNS
    )
    raw_values = _raw_values(annotated.collect_schema().names()).alias("raw_values")
    rejected = (
        annotated.filter(pl.col("reason").is_not_null())
        .with_columns(raw_values)
        .select(*(pl.col(c).cast(t) for c, t in REJECTED_COLUMNS.items()), *LINEAGE_COLUMNS)
        .sort(ROW_KEY)
    )
    return silver, rejected
