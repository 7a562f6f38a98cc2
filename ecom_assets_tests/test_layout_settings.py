"""Layout settings real exports need, each on a small file written here: sniffed encodings,
delimiters and decimal marks, time-zone offsets, day/month order, constants, row filters,
non-product lines, line keys from any column, payment repeats, order fields filled forward."""

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from ecom_assets.layouts import Layout, LayoutError, load_layouts, parse_layout
from ecom_assets.transforms.bronze import ExportFileError, combine_exports, read_export
from ecom_assets.transforms.silver import REJECTION_REASONS, annotate_orders, split_orders
from ecom_assets_tests.conftest import INGESTED_AT

SHOP_LAYOUT = """
name: shop
date_formats: ["%Y-%m-%d", "%Y-%m-%d %H:%M:%S"]
columns: {order_id: Order, order_date: Date, product_name: Item, price: Price, quantity: Qty}
"""


def _layouts(tmp_path: Path, *yaml_texts: str) -> dict[str, Layout]:
    folder = tmp_path / "layouts"
    folder.mkdir(exist_ok=True)
    for number, text in enumerate(yaml_texts):
        (folder / f"layout{number}.yaml").write_text(text)
    return load_layouts(folder)


def _load(
    tmp_path: Path, layouts: dict[str, Layout], files: dict[str, bytes | str]
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(bronze, silver, rejected) of the given files, read as the pipeline reads them."""
    raw = tmp_path / "raw"
    raw.mkdir(exist_ok=True)
    frames = []
    for name, content in files.items():
        path = raw / name
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        frames.append(read_export(path, name, layouts, INGESTED_AT))
    bronze = combine_exports(frames).collect()
    silver, rejected = split_orders(annotate_orders(bronze.lazy(), layouts))
    return bronze, silver.collect().sort("_source_file", "_source_row"), rejected.collect()


def test_a_windows_1252_file_with_semicolons_and_decimal_commas_is_read_without_settings(
    tmp_path: Path,
) -> None:
    text = (
        "Order;Date;Item;Price;Qty\r\n"
        "A-1;2024-03-01;Gr\u00fc\u00dfe M\u00fctze \u2013 Wolle;1.234,50;2\r\n"
        "A-2;2024-03-02;K\u00e4sereibe;3,75;1\r\n"
        "A-3;2024-03-02;Caf\u00e9 Tasse;12;4\r\n"
    )
    bronze, silver, rejected = _load(
        tmp_path, _layouts(tmp_path, SHOP_LAYOUT), {"de.csv": text.encode("cp1252")}
    )
    assert bronze["_source_encoding"].unique().to_list() == ["cp1252"]
    assert rejected.height == 0
    assert silver["product_name"].to_list() == [
        "Gr\u00fc\u00dfe M\u00fctze \u2013 Wolle",
        "K\u00e4sereibe",
        "Caf\u00e9 Tasse",
    ]
    assert silver["price"].to_list() == [1234.5, 3.75, 12.0]
    assert silver["revenue"].to_list() == [2469.0, 3.75, 48.0]


@pytest.mark.parametrize(
    ("delimiter", "encoded"),
    [
        ("\t", lambda text: text.encode("utf-8")),
        ("|", lambda text: text.encode("utf-8")),
        (",", lambda text: b"\xef\xbb\xbf" + text.encode("utf-8")),
    ],
)
def test_tab_pipe_and_byte_order_marked_files_are_sniffed(
    tmp_path: Path, delimiter: str, encoded
) -> None:
    lines = [["Order", "Date", "Item", "Price", "Qty"], ["A-1", "2024-03-01", "Mug", "2.50", "3"]]
    text = "\n".join(delimiter.join(line) for line in lines) + "\n"
    bronze, silver, _ = _load(tmp_path, _layouts(tmp_path, SHOP_LAYOUT), {"x.csv": encoded(text)})
    expected_encoding = "utf-8-sig" if encoded(text).startswith(b"\xef") else "utf-8"
    assert bronze["_source_encoding"].to_list() == [expected_encoding]
    assert silver.select("order_id", "revenue").rows() == [("A-1", 7.5)]


def test_the_decimal_mark_is_decided_per_file(tmp_path: Path) -> None:
    header = "Order;Date;Item;Price;Qty\n"
    files = {
        "comma.csv": header + "A-1;2024-03-01;Mug;2,50;2\nA-2;2024-03-01;Pot;1.250;1\n",
        "point.csv": header + "B-1;2024-03-01;Mug;2.50;2\nB-2;2024-03-01;Pot;1,250.00;1\n",
    }
    _, silver, rejected = _load(tmp_path, _layouts(tmp_path, SHOP_LAYOUT), files)
    assert rejected.height == 0
    assert silver.select("order_id", "price").rows() == [
        ("A-1", 2.5),
        ("A-2", 1250.0),
        ("B-1", 2.5),
        ("B-2", 1250.0),
    ]


def test_time_zone_offsets_and_iso_timestamps_give_the_local_order_date(tmp_path: Path) -> None:
    stamps = [
        "2026-08-04 05:24:22 +0500",
        "2026-08-04 23:30:00 -0700",
        "2026-08-04T23:59:59Z",
        "2026-08-04T00:15:00.250+02:00",
        "2026-08-04T10:00:00",
    ]
    rows = [f"A-{n},{stamp},Mug,2.00,1" for n, stamp in enumerate(stamps)]
    content = "Order,Date,Item,Price,Qty\n" + "\n".join(rows) + "\n"
    _, silver, rejected = _load(tmp_path, _layouts(tmp_path, SHOP_LAYOUT), {"t.csv": content})
    assert rejected.height == 0
    assert silver["order_date"].to_list() == [date(2026, 8, 4)] * len(stamps)


def test_day_first_or_month_first_is_decided_by_each_files_own_dates(tmp_path: Path) -> None:
    layout = SHOP_LAYOUT.replace('["%Y-%m-%d", "%Y-%m-%d %H:%M:%S"]', '["%d/%m/%Y", "%m/%d/%Y"]')
    header = "Order,Date,Item,Price,Qty\n"
    files = {
        "day_first.csv": header + "A-1,05/02/2024,Mug,2,1\nA-2,13/02/2024,Mug,2,1\n",
        "month_first.csv": header + "B-1,05/02/2024,Mug,2,1\nB-2,02/13/2024,Mug,2,1\n",
        "unclear.csv": header + "C-1,05/02/2024,Mug,2,1\nC-2,03/03/2024,Mug,2,1\n",
    }
    _, silver, rejected = _load(tmp_path, _layouts(tmp_path, layout), files)
    assert silver.select("order_id", "order_date").rows() == [
        ("A-1", date(2024, 2, 5)),
        ("A-2", date(2024, 2, 13)),
        ("B-1", date(2024, 5, 2)),
        ("B-2", date(2024, 2, 13)),
        ("C-2", date(2024, 3, 3)),
    ]
    assert rejected.select("_source_file", "reason", "field", "value").rows() == [
        ("unclear.csv", "ambiguous_date", "Date", "05/02/2024")
    ]


def test_a_constant_stands_for_a_field_the_export_lacks(tmp_path: Path) -> None:
    layout = """
name: marketplace
date_formats: ["%Y-%m-%d %H:%M:%S"]
columns: {order_id: order_id, order_date: order_purchase_timestamp, product_id: product_id,
          price: price}
constants: {quantity: 1}
line_key: [order_id, order_item_id]
"""
    content = (
        "order_id,order_item_id,product_id,price,order_purchase_timestamp\n"
        "o1,1,p1,10.50,2018-01-02 10:00:00\n"
        "o1,2,p1,10.50,2018-01-02 10:00:00\n"
        "o2,1,p2,3.00,2018-01-03 11:00:00\n"
    )
    _, silver, rejected = _load(tmp_path, _layouts(tmp_path, layout), {"items.csv": content})
    assert rejected.height == 0
    assert silver.select("line_id", "product_id", "quantity", "revenue").rows() == [
        ("o1|1", "p1", 1, 10.5),
        ("o1|2", "p1", 1, 10.5),
        ("o2|1", "p2", 1, 3.0),
    ]


def test_rows_repeated_once_per_payment_collapse_into_one_line(tmp_path: Path) -> None:
    layout = """
name: marketplace
date_formats: ["%Y-%m-%d %H:%M:%S"]
columns: {order_id: order_id, order_date: order_purchase_timestamp, product_id: product_id,
          price: price}
optional_columns: {payment_method: payment_type}
constants: {quantity: 1}
line_key: [order_id, order_item_id]
rows_repeat_per_payment: true
"""
    content = (
        "order_id,order_item_id,product_id,price,order_purchase_timestamp,payment_type\n"
        "o1,1,p1,10.50,2018-01-02 10:00:00,credit_card\n"
        "o1,1,p1,10.50,2018-01-02 10:00:00,voucher\n"
        "o1,2,p2,4.00,2018-01-02 10:00:00,credit_card\n"
        "o1,2,p2,4.00,2018-01-02 10:00:00,voucher\n"
        "o1,2,p2,4.50,2018-01-02 10:00:00,voucher\n"
    )
    _, silver, rejected = _load(tmp_path, _layouts(tmp_path, layout), {"items.csv": content})
    assert silver.select("line_id", "revenue", "payment_method").rows() == [
        ("o1|1", 10.5, "credit_card"),
        ("o1|2", 4.0, "credit_card"),
    ]
    assert rejected.select("_source_row", "reason").rows() == [
        (2, "payment_repeat"),
        (4, "payment_repeat"),
        (5, "resent_line"),
    ]


SHOPIFY_HEADER = (
    "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,"
    "Currency,Subtotal,Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,"
    "Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem compare at price,"
    "Lineitem sku,Lineitem requires shipping,Lineitem taxable,Lineitem fulfillment status,"
    "Shipping City,Cancelled at,Payment Method"
)


def test_shopify_orders_fill_order_fields_forward_and_exclude_voided_and_cancelled_orders(
    tmp_path: Path, layouts
) -> None:
    rows = [
        "#1001,a@x.com,paid,,fulfilled,,no,EUR,30.00,5.00,0.00,35.00,,0.00,Standard,"
        "2023-01-15 23:23:45 -0500,2,Mug \u2013 Blue,10.00,,MUG-B,true,true,fulfilled,Boston,,"
        "Shopify Payments",
        "#1001,,,,,,,,,,,,,,,,1,Tea Towel,10.00,,,true,true,fulfilled,,,",
        "#1002,b@x.com,voided,,,,no,EUR,20.00,0,0,20.00,,0,,2023-01-16 08:00:00 +0100,1,"
        "Mug \u2013 Blue,10.00,,MUG-B,true,true,,Paris,,",
        "#1002,,,,,,,,,,,,,,,,1,Tea Towel,10.00,,,true,true,,,,",
        "#1003,c@x.com,paid,,,,no,EUR,10.00,0,0,10.00,,0,,2023-01-17 09:00:00 +0100,1,"
        "Tea Towel,10.00,,,true,true,,Lyon,2023-01-18 09:00:00 +0100,",
    ]
    content = "\n".join([SHOPIFY_HEADER, *rows]) + "\n"
    bronze, silver, rejected = _load(tmp_path, layouts, {"orders_export_1.csv": content})
    assert bronze["_layout"].unique().to_list() == ["shopify"]
    assert silver.select(
        "order_id", "order_date", "customer_id", "product_id", "revenue", "city", "payment_method"
    ).rows() == [
        ("#1001", date(2023, 1, 15), "a@x.com", "MUG-B", 20.0, "Boston", "Shopify Payments"),
        ("#1001", date(2023, 1, 15), "a@x.com", "tea-towel", 10.0, "Boston", "Shopify Payments"),
    ]
    assert rejected.select("_source_row", "reason", "field", "value").rows() == [
        (3, "excluded_status", "Financial Status", "voided"),
        (4, "excluded_status", "Financial Status", "voided"),
        (5, "excluded_status", "Cancelled at", "2023-01-18 09:00:00 +0100"),
    ]


def test_row_filters_in_and_not_in_compare_trimmed_and_case_insensitively(tmp_path: Path) -> None:
    layout = """
name: b2b
date_formats: ["%m/%d/%Y %H:%M"]
columns: {order_id: ORDERNUMBER, order_date: ORDERDATE, product_id: PRODUCTCODE,
          price: PRICEEACH, quantity: QUANTITYORDERED}
exclude_rows:
  - {column: STATUS, in: [Cancelled, On Hold]}
  - {column: DEALSIZE, not_in: [Small, Medium, Large]}
"""
    content = (
        "ORDERNUMBER,QUANTITYORDERED,PRICEEACH,ORDERDATE,STATUS,PRODUCTCODE,DEALSIZE\n"
        "10100,30,100,2/24/2003 0:00,Shipped,S18_1749,Medium\n"
        "10101,20,50,2/25/2003 0:00, cancelled ,S18_1749,Small\n"
        "10102,20,50,2/25/2003 0:00,ON HOLD,S18_2248,Small\n"
        "10103,20,50,2/26/2003 0:00,Resolved,S18_2248,Huge\n"
        "10104,20,50,2/26/2003 0:00,Disputed,S18_2248,large\n"
    )
    _, silver, rejected = _load(tmp_path, _layouts(tmp_path, layout), {"sales.csv": content})
    assert silver["order_id"].to_list() == ["10100", "10104"]
    assert rejected.select("_source_row", "reason", "field", "value").rows() == [
        (2, "excluded_status", "STATUS", "cancelled"),
        (3, "excluded_status", "STATUS", "ON HOLD"),
        (4, "excluded_status", "DEALSIZE", "Huge"),
    ]


def test_lines_that_are_not_products_are_rejected_by_code_or_pattern(tmp_path: Path) -> None:
    layout = (
        SHOP_LAYOUT.replace("product_name: Item", "product_id: Code, product_name: Item")
        + "non_products: {codes: [POST, bank charges], pattern: '^gift'}\n"
    )
    content = (
        "Order,Date,Code,Item,Price,Qty\n"
        "A-1,2024-03-01,85123A,Heart Holder,2.55,6\n"
        "A-1,2024-03-01,post,POSTAGE,18.00,1\n"
        "A-2,2024-03-01,BANK CHARGES,Bank Charges,15.00,1\n"
        "A-3,2024-03-01,gift_0001_20,Dotcomgiftshop Gift Voucher,17.02,1\n"
        "A-4,2024-03-01,22998,Gift card holder,1.25,2\n"
    )
    _, silver, rejected = _load(tmp_path, _layouts(tmp_path, layout), {"r.csv": content})
    assert silver["product_id"].to_list() == ["85123A"]
    assert rejected.select("_source_row", "reason", "value").rows() == [
        (2, "not_a_product", "post"),
        (3, "not_a_product", "BANK CHARGES"),
        (4, "not_a_product", "gift_0001_20"),
        (5, "not_a_product", "22998"),
    ]


def test_fill_forward_only_fills_within_an_order(tmp_path: Path) -> None:
    layout = SHOP_LAYOUT + "optional_columns: {city: City}\nfill_forward: [order_date, city]\n"
    content = (
        "Order,Date,Item,Price,Qty,City\n"
        "A-1,2024-03-01,Mug,2.00,1,Oslo\n"
        "A-1,,Pot,3.00,1,\n"
        "A-2,,Cup,1.00,1,\n"
    )
    _, silver, rejected = _load(tmp_path, _layouts(tmp_path, layout), {"f.csv": content})
    assert silver.select("order_id", "order_date", "city").rows() == [
        ("A-1", date(2024, 3, 1), "Oslo"),
        ("A-1", date(2024, 3, 1), "Oslo"),
    ]
    assert rejected.select("reason", "field").rows() == [("invalid_date", "Date")]


def test_product_ids_can_be_upper_cased(tmp_path: Path) -> None:
    layout = (
        SHOP_LAYOUT.replace("product_name: Item", "product_id: Code") + "product_id_case: upper\n"
    )
    content = "Order,Date,Code,Price,Qty\nA-1,2024-03-01,85099b,2.00,1\nA-2,2024-03-01,85099B,2,1\n"
    _, silver, _ = _load(tmp_path, _layouts(tmp_path, layout), {"c.csv": content})
    assert silver["product_id"].to_list() == ["85099B", "85099B"]


def test_a_layout_extends_another_and_overrides_only_what_it_gives(tmp_path: Path) -> None:
    layouts = _layouts(
        tmp_path,
        "name: my_shopify\nextends: shopify\ncolumns: {order_id: Name, order_date: Created at,"
        " product_name: Lineitem name, price: Lineitem price, quantity: Lineitem quantity}\n"
        "default_category: Shop\n",
    )
    mine, base = layouts["my_shopify"], layouts["shopify"]
    assert mine.default_category == "Shop"
    assert mine.exclude_rows == base.exclude_rows
    assert mine.fill_forward == base.fill_forward


def test_online_retail_ii_is_detected_with_its_non_products_and_cancellations(
    tmp_path: Path, layouts
) -> None:
    content = (
        "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
        "489434,85048,15CM CHRISTMAS GLASS BALL 20 LIGHTS,12,2009-12-01 07:45:00,6.95,13085,"
        "United Kingdom\n"
        "489434,POST,POSTAGE,1,2009-12-01 07:45:00,18.00,13085,United Kingdom\n"
        "C489449,85048,15CM CHRISTMAS GLASS BALL 20 LIGHTS,-2,2009-12-01 10:33:00,6.95,16321,"
        "Australia\n"
        "489435,22350,CAT BOWL,12,2009-12-01 07:46:00,0,,United Kingdom\n"
    )
    bronze, silver, rejected = _load(tmp_path, layouts, {"online_retail_II.csv": content})
    assert bronze["_layout"].unique().to_list() == ["online_retail_ii"]
    assert silver.select("order_id", "line_type", "revenue").rows() == [
        ("489434", "sale", 83.4),
        ("C489449", "return", -13.9),
    ]
    assert rejected.select("_source_row", "reason").rows() == [
        (2, "not_a_product"),
        (4, "invalid_price"),
    ]


def test_every_new_reason_is_documented() -> None:
    for reason in ("excluded_status", "ambiguous_date", "not_a_product", "payment_repeat"):
        assert REJECTION_REASONS[reason]


def test_an_unknown_header_says_to_run_layout_suggest(tmp_path: Path, layouts) -> None:
    path = tmp_path / "mystery.csv"
    path.write_text("Bestellnummer;Datum;Artikel;Menge\n1;01.02.2024;Lampe;2\n")
    with pytest.raises(ExportFileError) as caught:
        read_export(path, "mystery.csv", layouts, INGESTED_AT)
    assert "delimiter ';'" in caught.value.problem
    assert "ecom layout suggest mystery.csv" in caught.value.problem


BASE = {
    "name": "x",
    "columns": {"order_id": "O", "order_date": "D", "product_name": "P", "price": "E"},
}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**BASE}, "must map 'quantity'"),
        ({**BASE, "constants": {"quantity": 1, "colour": "red"}}, "unknown field(s) ['colour']"),
        (
            {**BASE, "columns": {**BASE["columns"], "quantity": "Q"}, "constants": {"quantity": 1}},
            "both a column and a constant",
        ),
        (
            {**BASE, "constants": {"quantity": 1}, "exclude_rows": [{"column": "S"}]},
            "exactly one of ['in', 'not_in', 'present']",
        ),
        (
            {**BASE, "constants": {"quantity": 1}, "exclude_rows": [{"column": "S", "in": []}]},
            "'in' must be a non-empty list",
        ),
        (
            {**BASE, "constants": {"quantity": 1}, "non_products": {"pattern": "(unclosed"}},
            "non_products pattern '(unclosed'",
        ),
        ({**BASE, "constants": {"quantity": 1}, "delimiter": ":"}, "delimiter must be auto"),
        ({**BASE, "constants": {"quantity": 1}, "decimal": ";"}, "decimal must be auto"),
        (
            {**BASE, "constants": {"quantity": 1}, "product_id_case": "title"},
            "product_id_case must be one of",
        ),
    ],
)
def test_bad_new_settings_name_the_setting_at_fault(data, message: str) -> None:
    with pytest.raises(LayoutError) as caught:
        parse_layout(data, "mine.yaml")
    assert str(caught.value).startswith("mine.yaml: ")
    assert message in str(caught.value)


def test_extending_an_unknown_layout_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LayoutError, match="extends unknown or circular layout 'nope'"):
        _layouts(tmp_path, "name: mine\nextends: nope\ncolumns: {}\n")


def test_a_format_with_fractions_of_a_second_reads_what_layout_suggest_matched_it_on(
    tmp_path: Path,
) -> None:
    from ecom_assets.layouts.sniff import infer_date_formats

    stamps = ["2023-01-15 10:23:45.000000 +0100", "2023-01-16T23:59:59.500000Z"]
    formats = infer_date_formats(stamps).formats
    assert formats and all("%f" in f for f in formats)
    layout = SHOP_LAYOUT.replace('["%Y-%m-%d", "%Y-%m-%d %H:%M:%S"]', str(list(formats)))
    rows = [f"A-{n},{stamp},Mug,2.00,1" for n, stamp in enumerate(stamps)]
    content = "Order,Date,Item,Price,Qty\n" + "\n".join(rows) + "\n"
    _, silver, rejected = _load(tmp_path, _layouts(tmp_path, layout), {"f.csv": content})
    assert rejected.height == 0
    assert silver["order_date"].to_list() == [date(2023, 1, 15), date(2023, 1, 16)]
