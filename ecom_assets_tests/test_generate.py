"""Tests for the synthetic order-export generator, checked against the CSV it writes.

Every expectation is recomputed from the written file with polars (read as plain strings, the
way a cleaner would see it); nothing is compared with numbers copied from a previous run.
"""

import datetime as dt
import hashlib
import re
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from ecom_assets.generate import (
    DIRTY_FRACTIONS,
    EXPORT_COLUMNS,
    GenerationSummary,
    ShopShape,
    generate_orders,
)

CALENDAR_START = dt.date(2023, 10, 1)
CALENDAR_END = dt.date(2026, 9, 30)
ROWS = 60_000
SMALL_ROWS = 20_000
MISSING_IDS = ("", "NA", "null")
PAYMENT_METHODS = {"Credit Card", "Debit Card", "PayPal", "Apple Pay", "Gift Card", "Bank Transfer"}
INVALID_DEFECTS = (
    "exact_duplicate",
    "resent_order",
    "missing_order_id",
    "unparseable_date",
    "future_date",
    "bad_quantity",
    "bad_price",
    "total_mismatch",
    "rating_out_of_range",
)


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[GenerationSummary, Path]:
    path = tmp_path_factory.mktemp("export") / "orders.csv"
    return generate_orders(path, rows=ROWS, seed=11), path


@pytest.fixture(scope="module")
def flagged(export: tuple[GenerationSummary, Path]) -> pl.DataFrame:
    """Every row of the file with parsed values and one boolean column per defect class."""
    return flag_defects(pl.read_csv(export[1], infer_schema=False))


@pytest.fixture(scope="module")
def clean(flagged: pl.DataFrame) -> pl.DataFrame:
    """Rows without any invalid defect, with the line revenue."""
    return flagged.filter(~pl.any_horizontal(INVALID_DEFECTS)).with_columns(
        revenue=pl.col("price") * pl.col("quantity"),
    )


@pytest.fixture(scope="module")
def products(clean: pl.DataFrame) -> pl.DataFrame:
    """Per product: first and last sale, lines, units, mean rating, first/last-year revenue."""
    first_year_end = CALENDAR_START.replace(year=CALENDAR_START.year + 1)
    last_year_start = CALENDAR_END.replace(year=CALENDAR_END.year - 1)
    return clean.group_by("Product").agg(
        first=pl.col("date").min(),
        last=pl.col("date").max(),
        lines=pl.len(),
        units=pl.col("quantity").sum(),
        rating=pl.col("rating").mean(),
        first_year=pl.col("revenue").filter(pl.col("date") < first_year_end).sum(),
        first_year_lines=(pl.col("date") < first_year_end).sum(),
        last_year=pl.col("revenue").filter(pl.col("date") > last_year_start).sum(),
        last_year_lines=(pl.col("date") > last_year_start).sum(),
    )


@pytest.fixture(scope="module")
def daily_revenue(clean: pl.DataFrame) -> pl.DataFrame:
    return clean.group_by("date").agg(revenue=pl.col("revenue").sum()).sort("date")


def flag_defects(raw: pl.DataFrame) -> pl.DataFrame:
    parsed = raw.with_row_index("row").with_columns(
        date=pl.col("OrderDate").str.strptime(pl.Date, "%Y-%m-%d", strict=False),
        price=pl.col("Price").cast(pl.Float64, strict=False),
        quantity=pl.col("Quantity").cast(pl.Int64, strict=False),
        total=pl.col("TotalAmount").cast(pl.Float64, strict=False),
        rating=pl.col("Rating").cast(pl.Float64, strict=False),
        reviews=pl.col("Reviews").cast(pl.Int64, strict=False),
        usual_category=pl.col("Category").mode().first().over("Product"),
    )
    expected_total = pl.col("price") * pl.col("quantity")
    gap = (pl.col("total") - expected_total).abs()
    valid_id = pl.col("OrderID").is_not_null() & ~pl.col("OrderID").str.strip_chars().is_in(
        MISSING_IDS
    )
    flagged = parsed.with_columns(
        exact_duplicate=~pl.struct(EXPORT_COLUMNS).is_first_distinct(),
        missing_order_id=~valid_id,
        unparseable_date=pl.col("date").is_null(),
        future_date=pl.col("date") > CALENDAR_END,
        bad_quantity=pl.col("quantity") <= 0,
        bad_price=pl.col("price").is_null() | (pl.col("price") < 0),
        total_mismatch=(pl.col("price") >= 0)
        & (pl.col("quantity") > 0)
        & pl.col("total").is_not_null()
        & (gap > pl.max_horizontal(0.01 * expected_total, pl.lit(0.05))),
        rating_out_of_range=~pl.col("rating").is_between(1, 5).fill_null(False),
        category_variant=pl.col("Category") != pl.col("usual_category"),
    )
    key = pl.struct("OrderID", "Product")
    seen_before = (
        flagged.filter(~pl.col("exact_duplicate") & valid_id)
        .filter(~key.is_first_distinct())
        .get_column("row")
    )
    return flagged.with_columns(resent_order=pl.col("row").is_in(seen_before.implode()))


def category_key(column: str) -> pl.Expr:
    """Case, spacing, punctuation, '&' vs 'and' and a plural 's' do not matter."""
    return (
        pl.col(column)
        .str.to_lowercase()
        .str.replace_all("&", "and", literal=True)
        .str.replace_all(r"s\b", "")
        .str.replace_all(r"[^a-z]", "")
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    first = generate_orders(tmp_path / "a.csv", rows=SMALL_ROWS, seed=5)
    second = generate_orders(tmp_path / "b.csv", rows=SMALL_ROWS, seed=5)
    other = generate_orders(tmp_path / "c.csv", rows=SMALL_ROWS, seed=6)
    assert sha256(first.path) == sha256(second.path)
    assert first.dirty_rows == second.dirty_rows
    assert sha256(other.path) != sha256(first.path)


def test_header_row_count_and_line_endings(export: tuple[GenerationSummary, Path]) -> None:
    summary, path = export
    data = path.read_bytes()
    lines = data.decode("utf-8").split("\n")
    assert lines[0].split(",") == EXPORT_COLUMNS
    assert lines[-1] == "" and b"\r" not in data
    assert summary.rows_written == len(lines) - 2
    assert abs(summary.rows_written - ROWS) <= 0.03 * ROWS


def test_catalog_size_and_calendar_span(
    export: tuple[GenerationSummary, Path], flagged: pl.DataFrame
) -> None:
    summary = export[0]
    catalog = flagged.group_by("Product").agg(category_key("Category").unique())
    dates = flagged.get_column("date").filter(flagged.get_column("date") <= CALENDAR_END)
    first, last = dates.min(), dates.max()
    assert catalog.height >= 200
    assert (catalog.get_column("Category").list.len() == 1).all()
    assert catalog.get_column("Category").list.first().n_unique() >= 10
    assert isinstance(first, dt.date) and isinstance(last, dt.date)
    assert (last - first).days >= 2 * 365
    assert (summary.first_date, summary.last_date) == (first, last)
    assert summary.products == catalog.height


def test_every_dirty_row_has_exactly_one_defect(flagged: pl.DataFrame) -> None:
    defects = flagged.select(pl.sum_horizontal((*INVALID_DEFECTS, "category_variant")))
    assert defects.to_series().max() == 1


def test_dirty_classes_are_detectable_and_counted(
    export: tuple[GenerationSummary, Path], flagged: pl.DataFrame
) -> None:
    summary = export[0]
    detected = {name: int(flagged.get_column(name).sum()) for name in INVALID_DEFECTS}
    assert detected == {name: summary.dirty_rows[name] for name in INVALID_DEFECTS}
    for name in INVALID_DEFECTS:
        share = detected[name] / summary.rows_written
        assert 0.5 * DIRTY_FRACTIONS[name] <= share <= 1.5 * DIRTY_FRACTIONS[name], name
    assert 0.01 <= sum(summary.dirty_rows.values()) / summary.rows_written <= 0.03


def test_exact_duplicates_are_single_copies_placed_elsewhere(flagged: pl.DataFrame) -> None:
    copies = flagged.filter("exact_duplicate").select("row", *EXPORT_COLUMNS)
    originals = flagged.filter(~pl.col("exact_duplicate")).select("row", *EXPORT_COLUMNS)
    pairs = copies.join(originals, on=EXPORT_COLUMNS, nulls_equal=True, suffix="_original")
    distance = pairs.get_column("row") - pairs.get_column("row_original")
    assert copies.height > 0 and pairs.height == copies.height
    assert (distance > 1).mean() > 0.8


def test_resent_orders_repeat_whole_orders_later_with_more_reviews(
    flagged: pl.DataFrame,
) -> None:
    resent = flagged.filter("resent_order")
    originals = flagged.filter(~pl.col("resent_order") & ~pl.col("exact_duplicate"))
    pairs = resent.join(originals, on=["OrderID", "Product"], suffix="_original")
    assert resent.height > 0 and pairs.height == resent.height
    assert (pairs["row"] > pairs["row_original"]).all()
    assert (pairs["reviews"] > pairs["reviews_original"]).all()
    order_sizes = originals.group_by("OrderID").len()
    resent_sizes = resent.group_by("OrderID").len()
    assert (
        resent_sizes.join(order_sizes, on="OrderID", suffix="_original")
        .select((pl.col("len") == pl.col("len_original")).all())
        .item()
    )


def test_category_variants_are_spellings_of_the_usual_category(flagged: pl.DataFrame) -> None:
    variants = flagged.filter("category_variant")
    assert 0.005 <= variants.height / flagged.height <= 0.015
    assert variants.select(
        (category_key("Category") == category_key("usual_category")).all()
    ).item()


def test_values_have_export_formats(clean: pl.DataFrame) -> None:
    def all_match(column: str, pattern: str) -> bool:
        return bool(clean.select(pl.col(column).str.contains(f"^{pattern}$").all()).item())

    assert all_match("OrderID", r"ORD-\d{7}")
    assert all_match("CustomerID", r"CUST-\d{6}")
    assert all_match("Price", r"\d+\.\d{2}")
    assert all_match("TotalAmount", r"\d+\.\d{2}")
    assert all_match("Rating", r"\d\.\d")
    assert clean.select((pl.col("total") - pl.col("revenue")).abs().max()).item() < 0.006
    assert set(clean.get_column("PaymentMethod").unique()) <= PAYMENT_METHODS
    assert 15 <= clean.get_column("City").n_unique() <= 25


def test_rows_are_sorted_by_date_then_order_id(flagged: pl.DataFrame) -> None:
    in_place = flagged.filter(
        ~pl.any_horizontal("exact_duplicate", "resent_order", "missing_order_id")
    ).filter(pl.col("date").is_between(CALENDAR_START, CALENDAR_END))
    ordered = in_place.sort("date", "OrderID", maintain_order=True)
    assert ordered.get_column("row").equals(in_place.get_column("row"))


def test_orders_customers_and_quantities_look_real(clean: pl.DataFrame) -> None:
    orders = clean.group_by("OrderID").agg(
        lines=pl.len(),
        dates=pl.col("date").n_unique(),
        customers=pl.col("CustomerID").n_unique(),
        products=pl.col("Product").n_unique(),
    )
    multi_line = orders.filter(pl.col("lines") > 1).height / orders.height
    assert 0.08 <= multi_line <= 0.22
    assert orders.get_column("lines").max() == 3
    assert orders.select((pl.col("dates") == 1) & (pl.col("customers") == 1)).to_series().all()
    assert orders.select(pl.col("products") == pl.col("lines")).to_series().all()
    per_customer = clean.group_by("CustomerID").agg(pl.col("OrderID").n_unique())
    assert per_customer.filter(pl.col("OrderID") >= 2).height / per_customer.height > 0.3
    quantity = clean.get_column("quantity")
    assert 0.6 <= (quantity == 1).mean() <= 0.95 and quantity.max() <= 5


def test_reviews_never_decrease_for_a_product(flagged: pl.DataFrame) -> None:
    first_sent = flagged.filter(~pl.col("exact_duplicate") & ~pl.col("resent_order"))
    steps = first_sent.select(pl.col("reviews").diff().over("Product").drop_nulls())
    assert steps.height > 0 and (steps.to_series() >= 0).all()


def test_launches_and_discontinuations(products: pl.DataFrame) -> None:
    days = (pl.col("last") - pl.col("first")).dt.total_days() + 1
    rate = pl.col("lines") / days
    silent_before = rate * (pl.col("first") - CALENDAR_START).dt.total_days()
    silent_after = rate * (pl.lit(CALENDAR_END) - pl.col("last")).dt.total_days()
    launched = products.filter(silent_before > 15).height
    discontinued = products.filter(silent_after > 15).height
    assert launched >= 0.08 * products.height
    assert discontinued >= 0.04 * products.height


def test_strongly_growing_and_declining_products(products: pl.DataFrame) -> None:
    steady = products.filter(
        (pl.col("first_year_lines") >= 40) & (pl.col("last_year_lines") >= 40)
    ).with_columns(ratio=pl.col("last_year") / pl.col("first_year"))
    assert steady.height >= 20
    assert steady.get_column("ratio").max() >= 2.0
    assert steady.get_column("ratio").min() <= 0.5


def test_weekends_differ_from_weekdays(daily_revenue: pl.DataFrame) -> None:
    weekend = daily_revenue.with_columns(weekend=pl.col("date").dt.weekday() >= 6)
    means = weekend.group_by("weekend").agg(pl.col("revenue").mean())
    by_kind = dict(zip(means["weekend"], means["revenue"], strict=True))
    assert by_kind[True] / by_kind[False] > 1.08


def test_black_friday_peaks_above_the_yearly_median(daily_revenue: pl.DataFrame) -> None:
    for year in (2023, 2024, 2025):
        season = daily_revenue.filter(
            pl.col("date").is_between(dt.date(year, 10, 1), dt.date(year + 1, 9, 30))
        )
        late_november = season.filter(
            pl.col("date").is_between(dt.date(year, 11, 20), dt.date(year, 12, 3))
        )
        peak = late_november.get_column("revenue").max()
        median = season.get_column("revenue").median()
        assert peak > 2.0 * median, year


def test_price_rises_cut_demand(clean: pl.DataFrame) -> None:
    window = 60
    daily = (
        clean.group_by("Product", "date")
        .agg(price=pl.col("price").mode().first(), units=pl.col("quantity").sum())
        .sort("Product", "date")
    )
    rises = daily.filter(
        pl.col("price") >= 1.1 * pl.col("price").shift().over("Product"),
    ).select("Product", change=pl.col("date"), new_price=pl.col("price"))
    around = daily.join(rises, on="Product").with_columns(
        offset=(pl.col("date") - pl.col("change")).dt.total_days()
    )
    windows = (
        around.filter(pl.col("offset").is_between(-window, window - 1))
        .group_by("Product", "change")
        .agg(
            before=pl.col("units").filter(pl.col("offset") < 0).sum() / window,
            after=pl.col("units").filter(pl.col("offset") >= 0).sum() / window,
            prices=pl.col("price").n_unique(),
            span=pl.col("offset").max() - pl.col("offset").min(),
        )
        .filter((pl.col("prices") == 2) & (pl.col("span") >= window) & (pl.col("before") >= 1))
    )
    falls = windows.filter(pl.col("after") < pl.col("before"))
    assert windows.height >= 5
    assert falls.height >= 0.7 * windows.height
    assert falls.filter(pl.col("after") < 0.75 * pl.col("before")).height >= 1


def test_higher_rated_products_sell_more(products: pl.DataFrame) -> None:
    active_days = (pl.col("last") - pl.col("first")).dt.total_days() + 1
    ranked = products.with_columns(
        units_per_day=pl.col("units") / active_days,
        top_half=pl.col("rating") >= pl.col("rating").median(),
    )
    medians = ranked.group_by("top_half").agg(pl.col("units_per_day").median())
    by_half = dict(zip(medians["top_half"], medians["units_per_day"], strict=True))
    assert by_half[True] > 1.5 * by_half[False]


def test_a_few_products_dominate_revenue(clean: pl.DataFrame) -> None:
    revenue = clean.group_by("Product").agg(pl.col("revenue").sum()).get_column("revenue")
    top_tenth = revenue.sort(descending=True).head(len(revenue) // 10).sum()
    assert top_tenth > 0.45 * revenue.sum()


def test_writes_atomically_into_a_new_folder(tmp_path: Path) -> None:
    target = tmp_path / "landing" / "nested" / "orders.csv"
    seen_while_writing: list[bool] = []
    original_write = pl.DataFrame.write_csv

    def spying_write(frame: pl.DataFrame, *args: object, **kwargs: object) -> object:
        seen_while_writing.append(target.exists())
        return original_write(frame, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pl.DataFrame, "write_csv", spying_write)
        summary = generate_orders(target, rows=5_000, seed=3)
    assert seen_while_writing and not any(seen_while_writing)
    assert summary.path == target
    assert [p.name for p in target.parent.iterdir()] == ["orders.csv"]


def test_failed_run_keeps_the_previous_export(tmp_path: Path) -> None:
    target = tmp_path / "orders.csv"
    target.write_text("previous export\n")
    calls: list[int] = []
    original_write = pl.DataFrame.write_csv

    def failing_write(frame: pl.DataFrame, *args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 5:
            raise OSError("disk full")
        return original_write(frame, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pl.DataFrame, "write_csv", failing_write)
        with pytest.raises(OSError, match="disk full"):
            generate_orders(target, rows=5_000, seed=3)
    assert target.read_text() == "previous export\n"
    assert [p.name for p in tmp_path.iterdir()] == ["orders.csv"]


def test_progress_bar_goes_to_stderr_only_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generate_orders(tmp_path / "quiet.csv", rows=2_000, seed=1)
    assert capsys.readouterr().err == ""
    generate_orders(tmp_path / "loud.csv", rows=2_000, seed=1, progress=True)
    captured = capsys.readouterr()
    assert captured.out == "" and re.search(r"100%.*1096/1096.*day", captured.err)


def test_rejects_tiny_exports_and_negative_seeds(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rows"):
        generate_orders(tmp_path / "tiny.csv", rows=10)
    with pytest.raises(ValueError, match="seed"):
        generate_orders(tmp_path / "negative.csv", rows=2_000, seed=-1)
    assert list(tmp_path.iterdir()) == []


SHAPE_END = dt.date(2026, 6, 30)


def _shape(days: int, **settings: Any) -> ShopShape:
    """A shop whose calendar is the `days` up to SHAPE_END."""
    return ShopShape(start=SHAPE_END - dt.timedelta(days=days - 1), end=SHAPE_END, **settings)


def test_an_explicit_default_shape_writes_the_default_export(tmp_path: Path) -> None:
    implicit = generate_orders(tmp_path / "a.csv", rows=SMALL_ROWS, seed=5)
    explicit = generate_orders(tmp_path / "b.csv", rows=SMALL_ROWS, seed=5, shape=ShopShape())
    assert sha256(implicit.path) == sha256(explicit.path)


def test_a_short_small_shop_stays_inside_its_calendar(tmp_path: Path) -> None:
    shape = _shape(90, products=20)
    summary = generate_orders(tmp_path / "shop.csv", seed=2, shape=shape, density=30)
    clean = flag_defects(pl.read_csv(summary.path, infer_schema=False)).filter(
        ~pl.any_horizontal(INVALID_DEFECTS)
    )
    assert clean["date"].min() >= shape.start and clean["date"].max() <= SHAPE_END
    assert (summary.first_date, summary.last_date) == (clean["date"].min(), clean["date"].max())
    assert clean["Product"].n_unique() == summary.products <= 20
    months = 90 / (365.25 / 12)
    expected = 30 * 20 * months
    assert abs(summary.rows_written - expected) < 0.1 * expected


def test_a_very_sparse_catalogue_sells_most_products_less_than_once_a_month(
    tmp_path: Path,
) -> None:
    shape = _shape(400, products=2_000, categories=1)
    summary = generate_orders(tmp_path / "shop.csv", seed=4, shape=shape, density=0.2)
    raw = pl.read_csv(summary.path, infer_schema=False)
    lines_per_sold_product = raw.group_by("Product").len()["len"]
    never_sold = 2_000 - lines_per_sold_product.len()
    months = 400 / (365.25 / 12)
    under_monthly = int((lines_per_sold_product < months).sum()) + never_sold
    assert summary.products == lines_per_sold_product.len() > 1_000
    assert under_monthly / 2_000 > 0.9
    assert raw.select(category_key("Category").n_unique()).item() == 1
    assert summary.categories == 1


def test_no_categories_leaves_the_field_blank_and_no_ratings_drops_their_columns(
    tmp_path: Path,
) -> None:
    shape = _shape(200, products=50, categories=0, ratings=False)
    summary = generate_orders(tmp_path / "shop.csv", seed=6, shape=shape, density=20)
    raw = pl.read_csv(summary.path, infer_schema=False)
    assert raw.columns == [c for c in EXPORT_COLUMNS if c not in ("Rating", "Reviews")]
    assert raw["Category"].null_count() == raw.height
    assert summary.categories == 0
    assert summary.dirty_rows["rating_out_of_range"] == 0
    assert summary.dirty_rows["category_variant"] == 0
    assert summary.dirty_rows["bad_price"] > 0


def test_a_large_catalogue_in_one_category_gets_unique_numbered_names(tmp_path: Path) -> None:
    shape = _shape(60, products=1_000, categories=1)
    summary = generate_orders(tmp_path / "shop.csv", seed=8, shape=shape, density=40)
    raw = pl.read_csv(summary.path, infer_schema=False)
    names = raw["Product"].unique()
    brand_noun_pairs = 16 * 10
    assert names.len() == summary.products > brand_noun_pairs
    assert names.str.contains(r" \d+$").any()
    assert raw.select(category_key("Category").n_unique()).item() == 1


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"shape": ShopShape(products=0)}, "products"),
        ({"shape": ShopShape(categories=13)}, "categories"),
        ({"shape": _shape(3)}, "at least 7 days"),
        ({"density": 0.0}, "density"),
        ({"density": 1.0, "rows": 5_000}, "not both"),
        ({"shape": _shape(30, products=1), "density": 0.001}, "no order line"),
    ],
)
def test_impossible_shops_are_refused(tmp_path: Path, settings: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_orders(tmp_path / "shop.csv", seed=1, **settings)
    assert list(tmp_path.iterdir()) == []
