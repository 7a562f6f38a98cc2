"""Bronze rows to the canonical order-line schema, and every row that did not make it, with why.

`annotate_orders` maps each layout's text columns onto the canonical fields, parses them with the
layout's formats and gives every row a `reason` (null when the row is good); `split_orders` then
separates the clean lines from the rejected ones. A row fails on its first broken field, in the
order of REJECTION_REASONS; among good rows, a line key seen again is a duplicate. Given the
silver already loaded, only new bronze rows need annotating: loaded line keys and category
spellings are honoured, so loading file by file gives the tables of loading all files at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import polars as pl

from ecom_assets.layouts import Layout
from ecom_assets.transforms.bronze import LINEAGE_COLUMNS, LINEAGE_SCHEMA

REJECTION_REASONS = {
    "missing_order_id": "the order id is blank",
    "missing_product": "neither a product id nor a product name",
    "invalid_date": "the order date is blank or not a date in the layout's formats",
    "future_date": "the order date is after the day the file was ingested",
    "invalid_quantity": "the quantity is blank, not a whole number, zero, or negative on a sale",
    "invalid_price": "the unit price (or line total) is blank, not a number, zero or negative",
    "total_mismatch": "the line total disagrees with price x quantity beyond the layout tolerance",
    "duplicate_row": "an exact copy of an earlier row with the same line key",
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


def _text(layout: Layout, field: str, columns: list[str]) -> pl.Expr:
    source = layout.source_columns.get(field)
    if source is None or source not in columns:
        return pl.lit(None, dtype=pl.String)
    value = pl.col(source).str.strip_chars()
    return pl.when(value.is_in(list(layout.na_values))).then(None).otherwise(value)


def _number(text: pl.Expr, layout: Layout) -> pl.Expr:
    if layout.thousands:
        text = text.str.replace_all(layout.thousands, "", literal=True)
    if layout.decimal != ".":
        text = text.str.replace_all(layout.decimal, ".", literal=True)
    return text.str.replace_all(r"^[$€£]\s*", "").cast(pl.Float64, strict=False)


def _date(text: pl.Expr, layout: Layout) -> pl.Expr:
    parsed = [text.str.to_datetime(fmt, strict=False).dt.date() for fmt in layout.date_formats]
    return pl.coalesce(parsed) if len(parsed) > 1 else parsed[0]


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


def _layout_rows(bronze: pl.LazyFrame, layout: Layout, columns: list[str]) -> pl.LazyFrame:
    """The rows of one layout with canonical typed fields, the raw texts needed for reasons."""
    text = {f: _text(layout, f, columns) for f in layout.source_columns}
    mapped = set(layout.source_columns.values())
    raw = [c for c in columns if c in mapped]
    product_id = text["product_id"] if "product_id" in text else _slug(text["product_name"])
    product_name = text["product_name"] if "product_name" in text else text["product_id"]
    quantity_number = _number(text["quantity"], layout)
    order_id = text["order_id"]
    is_cancellation = (
        order_id.str.starts_with(layout.cancelled_order_prefix)
        if layout.cancelled_order_prefix
        else pl.lit(False)
    )
    return (
        bronze.filter(pl.col("_layout") == layout.name)
        .with_columns(
            order_id.alias("order_id"),
            _date(text["order_date"], layout).alias("order_date"),
            product_id.alias("product_id"),
            product_name.alias("product_name"),
            *(text.get(f, pl.lit(None, pl.String)).alias(f) for f in _OPTIONAL_TEXT_FIELDS),
            text.get("category", pl.lit(layout.default_category))
            .fill_null(layout.default_category)
            .str.replace_all(r"\s+", " ")
            .alias("_category_text"),
            quantity_number.alias("_quantity_number"),
            _number(text["price"], layout).alias("_price_number")
            if "price" in text
            else pl.lit(None, pl.Float64).alias("_price_number"),
            _number(text["line_total"], layout).alias("_line_total")
            if "line_total" in text
            else pl.lit(None, pl.Float64).alias("_line_total"),
            _number(text["rating"], layout).alias("_rating_number")
            if "rating" in text
            else pl.lit(None, pl.Float64).alias("_rating_number"),
            _number(text["reviews"], layout).alias("_reviews_number")
            if "reviews" in text
            else pl.lit(None, pl.Float64).alias("_reviews_number"),
            (
                is_cancellation | pl.lit(layout.negative_quantity_is_return)
                if layout.cancelled_order_prefix or layout.negative_quantity_is_return
                else pl.lit(False)
            ).alias("_may_return"),
            *(pl.col(c).alias(f"{RAW_PREFIX}{layout.name}/{c}") for c in raw),
            *(text[f].alias(f"_text_{f}") for f in text),
        )
        .with_columns(
            pl.concat_str(
                [
                    pl.col("product_id") if f == "product_id" else pl.col(f"_text_{f}")
                    for f in layout.line_key
                ],
                separator="|",
            ).alias("line_id"),
        )
        .pipe(_derive_amounts, layout)
        .pipe(_flag_broken_rows, layout, columns)
    )


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


def _rules(layout: Layout) -> list[_Rule]:
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
        _Rule("missing_order_id", pl.col("order_id").is_null(), "order_id"),
        _Rule("missing_product", pl.col("product_id").is_null(), "product_id"),
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
    return rules


def _flag_broken_rows(frame: pl.LazyFrame, layout: Layout, columns: list[str]) -> pl.LazyFrame:
    rules = _rules(layout)
    sources = {f: c for f, c in layout.source_columns.items() if c in columns}

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
                pl.col(sources[r.field]) if r.field in sources else pl.col(r.field).cast(pl.String)
                for r in rules
            ]
        ).alias("value"),
    )


def _canonical_hash() -> pl.Expr:
    """A hash of a line's canonical values: equal for an exact copy, whatever its file."""
    return pl.struct(*(pl.col(c).cast(t) for c, t in SILVER_COLUMNS.items())).hash()


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
    row after the first in file-name then row order), each as an exact copy or a re-send."""
    file_rank = pl.col("_source_file").rank("dense").cast(pl.Int64)
    ordered = suspects.with_columns(
        (file_rank * 10_000_000_000 + pl.col("_source_row")).alias("_position"),
        _canonical_hash().alias("_row_hash"),
    ).join(loaded_hashes, on="line_id", how="left")
    first = pl.col("_position").min().over("line_id")
    first_hash = pl.coalesce(
        pl.col("_loaded_hash"),
        pl.col("_row_hash").get(pl.col("_position").arg_min()).over("line_id"),
    )
    duplicate = (pl.col("_position") != first) | pl.col("_loaded_hash").is_not_null()
    exact_copy = pl.col("_row_hash") == first_hash
    reason = pl.when(exact_copy).then(pl.lit("duplicate_row")).otherwise(pl.lit("resent_line"))
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
    loaded_hashes = pl.DataFrame(schema={"line_id": pl.String, "_loaded_hash": pl.UInt64})
    if loaded is not None:
        loaded_hashes = (
            loaded.join(good.select("line_id"), on="line_id", how="semi")
            .select("line_id", _canonical_hash().alias("_loaded_hash"))
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
            *keep, "_category_text", *LINEAGE_COLUMNS, pl.selectors.starts_with(RAW_PREFIX)
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
                **LINEAGE_SCHEMA,
            }
        )
    combined = stage(pl.concat(per_layout, how="diagonal"))
    return combined.pipe(_normalise_categories, loaded).pipe(_flag_duplicates, loaded)


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
