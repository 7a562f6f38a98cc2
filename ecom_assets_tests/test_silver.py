"""Cleaning bronze rows: one test per defect class, per layout rule, and the split invariant."""

import json

import polars as pl
import pytest

from ecom_assets.transforms.silver import REJECTION_REASONS, annotate_orders, split_orders
from ecom_assets_tests.conftest import ORIGINAL_HEADER, original_csv

GOOD = "ORD-1,2024-01-05,C1,Aurora Lamp,Home & Kitchen,10.00,2,20.00,4.5,10,PayPal,Paris"


def _clean(bronze: pl.DataFrame, layouts) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Silver lines (in file and row order: the table itself has no order) and rejected rows."""
    silver, rejected = split_orders(annotate_orders(bronze.lazy(), layouts))
    return silver.sort("_source_file", "_source_row").collect(), rejected.collect()


def _variant(**changes: str) -> str:
    fields = dict(zip(ORIGINAL_HEADER.split(","), GOOD.split(","), strict=True))
    fields.update(changes)
    return ",".join(fields.values())


@pytest.mark.parametrize(
    ("line", "reason", "field", "value"),
    [
        (_variant(OrderID=""), "missing_order_id", "OrderID", ""),
        (_variant(OrderID="NA"), "missing_order_id", "OrderID", "NA"),
        (_variant(OrderID="null"), "missing_order_id", "OrderID", "null"),
        (_variant(Product=" "), "missing_product", "product_id", None),
        (_variant(OrderDate="31/02/2024"), "invalid_date", "OrderDate", "31/02/2024"),
        (_variant(OrderDate="2024-13-45"), "invalid_date", "OrderDate", "2024-13-45"),
        (_variant(OrderDate="not a date"), "invalid_date", "OrderDate", "not a date"),
        (_variant(OrderDate=""), "invalid_date", "OrderDate", ""),
        (_variant(OrderDate="2062-03-14"), "future_date", "OrderDate", "2062-03-14"),
        (_variant(Quantity="0", TotalAmount="0"), "invalid_quantity", "Quantity", "0"),
        (_variant(Quantity="-3", TotalAmount="-30.00"), "invalid_quantity", "Quantity", "-3"),
        (_variant(Quantity="1.5", TotalAmount="15.00"), "invalid_quantity", "Quantity", "1.5"),
        (_variant(Quantity="two"), "invalid_quantity", "Quantity", "two"),
        (_variant(Price="", TotalAmount=""), "invalid_price", "Price", ""),
        (_variant(Price="-10.00", TotalAmount="-20.00"), "invalid_price", "Price", "-10.00"),
        (_variant(Price="0"), "invalid_price", "Price", "0"),
        (_variant(TotalAmount="25.00"), "total_mismatch", "TotalAmount", "25.00"),
    ],
)
def test_each_defect_is_rejected_with_its_reason_field_and_original_value(
    write_file, bronze_of, layouts, line: str, reason: str, field: str, value: str | None
) -> None:
    bronze = bronze_of(write_file("orders.csv", original_csv(GOOD.replace("ORD-1", "ORD-0"), line)))
    silver, rejected = _clean(bronze, layouts)
    assert silver["order_id"].to_list() == ["ORD-0"]
    assert rejected.select("reason", "field", "value", "_source_row").rows() == [
        (reason, field, value, 2)
    ]
    assert reason in REJECTION_REASONS
    raw = json.loads(rejected["raw_values"].item())
    assert ",".join(raw.values()) == line


def test_exact_duplicate_and_resent_lines_keep_the_first_and_reject_the_rest(
    write_file, bronze_of, layouts
) -> None:
    resent = _variant(Reviews="12")
    bronze = bronze_of(write_file("orders.csv", original_csv(GOOD, GOOD, resent)))
    silver, rejected = _clean(bronze, layouts)
    assert silver.select("_source_row", "reviews").rows() == [(1, 10)]
    assert rejected.select("_source_row", "reason", "line_id").rows() == [
        (2, "duplicate_row", "ORD-1|aurora-lamp"),
        (3, "resent_line", "ORD-1|aurora-lamp"),
    ]


def test_a_line_resent_in_a_later_file_is_a_duplicate(write_file, bronze_of, layouts) -> None:
    first = write_file("2024-01.csv", original_csv(GOOD))
    again = write_file("2024-02.csv", original_csv(GOOD, _variant(OrderID="ORD-2")))
    silver, rejected = _clean(bronze_of(first, again), layouts)
    assert sorted(silver["order_id"].to_list()) == ["ORD-1", "ORD-2"]
    assert rejected.select("_source_file", "reason").rows() == [("2024-02.csv", "duplicate_row")]


def test_a_line_resent_with_other_values_in_a_later_file_is_a_resend(
    write_file, bronze_of, layouts
) -> None:
    first = write_file("2024-01.csv", original_csv(GOOD))
    again = write_file("2024-02.csv", original_csv(GOOD, _variant(Reviews="12")))
    silver, rejected = _clean(bronze_of(first, again), layouts)
    assert silver.select("_source_file", "reviews").rows() == [("2024-01.csv", 10)]
    assert rejected.select("_source_file", "_source_row", "reason").rows() == [
        ("2024-02.csv", 1, "duplicate_row"),
        ("2024-02.csv", 2, "resent_line"),
    ]


def test_an_invalid_first_copy_does_not_hide_a_valid_resend(write_file, bronze_of, layouts) -> None:
    broken_first = _variant(Price="")
    bronze = bronze_of(write_file("orders.csv", original_csv(broken_first, GOOD)))
    silver, rejected = _clean(bronze, layouts)
    assert silver["_source_row"].to_list() == [2]
    assert rejected["reason"].to_list() == ["invalid_price"]


@pytest.mark.parametrize("rating", ["0", "6", "7.5", "10", "-1", "great"])
def test_a_rating_outside_1_to_5_is_dropped_but_the_sale_is_kept(
    write_file, bronze_of, layouts, rating: str
) -> None:
    bronze = bronze_of(write_file("orders.csv", original_csv(_variant(Rating=rating))))
    silver, rejected = _clean(bronze, layouts)
    assert rejected.height == 0
    assert silver.select("rating", "revenue").rows() == [(None, 20.0)]


def test_category_variants_become_the_most_common_spelling(write_file, bronze_of, layouts) -> None:
    spellings = [
        "Home & Kitchen",
        "Home & Kitchen",
        " home and kitchen ",
        "HOME & KITCHEN",
        "Home  and Kitchens",
        "Sports & Outdoors",
        "Sport & Outdoors",
        "Sports & Outdoors",
        "sports & outdoors",
    ]
    lines = [_variant(OrderID=f"ORD-{i}", Category=c) for i, c in enumerate(spellings)]
    silver, _ = _clean(bronze_of(write_file("orders.csv", original_csv(*lines))), layouts)
    assert silver.sort("_source_row")["category"].to_list() == (
        ["Home & Kitchen"] * 5 + ["Sports & Outdoors"] * 4
    )


def test_canonical_types_and_values_of_a_good_line(write_file, bronze_of, layouts) -> None:
    silver, _ = _clean(bronze_of(write_file("orders.csv", original_csv(GOOD))), layouts)
    row = silver.row(0, named=True)
    assert silver.schema["order_date"] == pl.Date
    assert silver.schema["quantity"] == pl.Int64
    assert (row["order_id"], row["product_id"], row["product_name"]) == (
        "ORD-1",
        "aurora-lamp",
        "Aurora Lamp",
    )
    assert (row["price"], row["quantity"], row["revenue"], row["rating"], row["reviews"]) == (
        10.0,
        2,
        20.0,
        4.5,
        10,
    )
    assert (row["customer_id"], row["payment_method"], row["city"], row["line_type"]) == (
        "C1",
        "PayPal",
        "Paris",
        "sale",
    )


def test_online_retail_cancellations_and_returns_net_against_sales(
    write_file, bronze_of, layouts
) -> None:
    content = (
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\r\n"
        "536365,85123A,WHITE HANGING HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom\r\n"
        "536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,3.39,17850,United Kingdom\r\n"
        "C536379,85123A,WHITE HANGING HEART,-2,12/1/2010 9:41,2.55,17850,United Kingdom\r\n"
        "536380,22139,RETROSPOT TEA SET,-3,12/1/2010 9:45,0,,United Kingdom\r\n"
        "536381,22139,RETROSPOT TEA SET,4,12/1/2010 9:45,4.95,NA,United Kingdom\r\n"
    ).encode("cp1252")
    silver, rejected = _clean(bronze_of(write_file("retail.csv", content)), layouts)
    by_line = {r["order_id"]: r for r in silver.iter_rows(named=True) if r["product_id"] != "71053"}
    assert by_line["C536379"]["line_type"] == "return"
    assert by_line["C536379"]["revenue"] == pytest.approx(-5.10)
    assert by_line["536365"]["revenue"] == pytest.approx(15.30)
    assert by_line["536381"]["customer_id"] is None
    assert silver["category"].unique().to_list() == ["Uncategorized"]
    assert silver.filter(pl.col("order_id") == "536365")["order_date"].to_list()[0].isoformat() == (
        "2010-12-01"
    )
    assert rejected.select("_source_row", "reason", "field").rows() == [
        (4, "invalid_price", "UnitPrice")
    ]

    header = (
        "Row ID,Order ID,Order Date,Customer ID,City,Product ID,Category,Product Name,Sales,"
        "Quantity"
    )
    content = (
        f"{header}\n"
        "1,CA-2016-152156,11/8/2016,CG-12520,Henderson,FUR-BO-10001798,Furniture,Bookcase,261.96,2\n"
        "2,CA-2016-152156,11/8/2016,CG-12520,Henderson,FUR-CH-10000454,Furniture,Chair,731.94,3\n"
        "3,CA-2016-152157,11/9/2016,CG-12520,Henderson,FUR-CH-10000454,Furniture,Chair,,3\n"
    )
    silver, rejected = _clean(bronze_of(write_file("superstore.csv", content)), layouts)
    assert silver.select("product_id", "price", "revenue").rows() == [
        ("FUR-BO-10001798", pytest.approx(130.98), pytest.approx(261.96)),
        ("FUR-CH-10000454", pytest.approx(243.98), pytest.approx(731.94)),
    ]
    assert rejected.select("reason", "field").rows() == [("invalid_price", "Sales")]


def test_decimal_comma_layout_parses_numbers_and_dates(write_file, tmp_path) -> None:
    from ecom_assets.layouts import load_layouts
    from ecom_assets.transforms.bronze import combine_exports, read_export
    from ecom_assets_tests.conftest import INGESTED_AT

    layouts_dir = tmp_path / "layouts"
    layouts_dir.mkdir()
    (layouts_dir / "de.yaml").write_text(
        "name: de_shop\ndelimiter: ';'\ndecimal: ','\nthousands: '.'\n"
        "date_formats: ['%d.%m.%Y']\n"
        "columns: {order_id: Nr, order_date: Datum, product_name: Artikel, price: Preis,"
        " quantity: Menge}\n"
    )
    layouts = load_layouts(layouts_dir)
    path = write_file("de.csv", "Nr;Datum;Artikel;Preis;Menge\nB-1;5.1.2024;Lampe;1.212,50;2\n")
    bronze = combine_exports([read_export(path, "de.csv", layouts, INGESTED_AT)]).collect()
    silver, _ = _clean(bronze, layouts)
    assert silver.select("price", "revenue").rows() == [(1212.5, 2425.0)]
    assert silver["order_date"].item().isoformat() == "2024-01-05"


def test_every_bronze_row_lands_in_exactly_one_output(write_file, bronze_of, layouts) -> None:
    lines = [
        GOOD,
        GOOD,
        _variant(Price=""),
        _variant(OrderID="ORD-9", OrderDate="x"),
        _variant(OrderID="ORD-8"),
    ]
    bronze = bronze_of(write_file("orders.csv", original_csv(*lines)))
    silver, rejected = _clean(bronze, layouts)
    rows = sorted(silver["_source_row"].to_list() + rejected["_source_row"].to_list())
    assert rows == bronze["_source_row"].sort().to_list()
