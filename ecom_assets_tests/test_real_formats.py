"""The real-format test exports, checked against an independent reading of the written bytes.

Each file is decoded and parsed here with Python's csv module; headers are compared with the
headers copied from the real files (kept literally below, not imported), and every count in the
facts is recounted from the parsed rows with this module's own rules.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from ecom_assets_tests.real_formats import (
    ExportFacts,
    main,
    write_b2b_sales_sample,
    write_marketplace_items,
    write_online_retail_ii,
    write_shopify_orders,
)

REAL_HEADERS = {
    # Diptargha/maison_maria_shopify_api orders_export_1.csv (and two other real exports)
    "shopify": "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts "
    "Marketing,Currency,Subtotal,Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping "
    "Method,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem compare at "
    "price,Lineitem sku,Lineitem requires shipping,Lineitem taxable,Lineitem fulfillment "
    "status,Billing Name,Billing Street,Billing Address1,Billing Address2,Billing Company,"
    "Billing City,Billing Zip,Billing Province,Billing Country,Billing Phone,Shipping Name,"
    "Shipping Street,Shipping Address1,Shipping Address2,Shipping Company,Shipping City,"
    "Shipping Zip,Shipping Province,Shipping Country,Shipping Phone,Notes,Note Attributes,"
    "Cancelled at,Payment Method,Payment Reference,Refunded Amount,Vendor,Outstanding "
    "Balance,Employee,Location,Device ID,Id,Tags,Risk Level,Source,Lineitem discount,Tax 1 "
    "Name,Tax 1 Value,Tax 2 Name,Tax 2 Value,Tax 3 Name,Tax 3 Value,Tax 4 Name,Tax 4 Value,"
    "Tax 5 Name,Tax 5 Value,Phone,Receipt Number,Duties,Billing Province Name,Shipping "
    "Province Name,Payment ID,Payment Terms Name,Next Payment Due At,Payment References",
    # the published online_retail_II.csv
    "online_retail_ii": "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,"
    "Country",
    # Kaggle sales_data_sample.csv
    "b2b": "ORDERNUMBER,QUANTITYORDERED,PRICEEACH,ORDERLINENUMBER,SALES,ORDERDATE,STATUS,QTR_ID,"
    "MONTH_ID,YEAR_ID,PRODUCTLINE,MSRP,PRODUCTCODE,CUSTOMERNAME,PHONE,ADDRESSLINE1,ADDRESSLINE2,"
    "CITY,STATE,POSTALCODE,COUNTRY,TERRITORY,CONTACTLASTNAME,CONTACTFIRSTNAME,DEALSIZE",
    # olist_order_items + olist_orders + olist_products + olist_order_payments, merged
    "marketplace": "order_id,order_item_id,product_id,seller_id,shipping_limit_date,price,"
    "freight_value,customer_id,order_status,order_purchase_timestamp,product_category_name,"
    "payment_sequential,payment_type,payment_installments,payment_value",
}
ENCODINGS = {
    "shopify": "utf-8",
    "online_retail_ii": "utf-8",
    "b2b": "cp1252",
    "marketplace": "utf-8",
}
SHOPIFY_LATER_ROW_FIELDS = {
    "Name",
    "Email",
    "Created at",
    "Lineitem quantity",
    "Lineitem name",
    "Lineitem price",
    "Lineitem compare at price",
    "Lineitem sku",
    "Lineitem requires shipping",
    "Lineitem taxable",
    "Lineitem fulfillment status",
    "Vendor",
    "Lineitem discount",
    "Phone",
}
UCI_NOT_PRODUCTS = {
    "POST", "DOT", "M", "C2", "D", "S", "BANK CHARGES", "AMAZONFEE", "CRUK", "B", "ADJUST",
    "ADJUST2", "TEST001", "TEST002",
}  # fmt: skip

Builder = Callable[..., ExportFacts]
BUILDERS: dict[str, Builder] = {
    "shopify": write_shopify_orders,
    "online_retail_ii": write_online_retail_ii,
    "b2b": write_b2b_sales_sample,
    "marketplace": write_marketplace_items,
}
SMALL = {
    "shopify": {"orders": 60},
    "online_retail_ii": {"rows": 2_000},
    "b2b": {"rows": 300, "products": 30},
    "marketplace": {"products": 200, "days": 120},
}


class Built:
    def __init__(self, kind: str, path: Path, facts: ExportFacts) -> None:
        self.kind, self.path, self.facts = kind, path, facts
        self.data = path.read_bytes()
        self.text = self.data.decode(ENCODINGS[kind])
        reader = csv.reader(io.StringIO(self.text, newline=""))
        self.header = next(reader)
        self.rows = [dict(zip(self.header, row, strict=True)) for row in reader]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    folder = tmp_path_factory.mktemp("real_formats")
    result = {}
    for kind, builder in BUILDERS.items():
        path = folder / f"{kind}.csv"
        result[kind] = Built(kind, path, builder(path))
    return result


def cents(text: str) -> int:
    value = Decimal(text) * 100
    assert value == value.to_integral_value(), text
    return int(value)


# ------------------------------------------------------------------------- every kind


@pytest.mark.parametrize("kind", BUILDERS)
def test_header_is_the_real_header(built: dict[str, Built], kind: str) -> None:
    assert built[kind].header == REAL_HEADERS[kind].split(",")
    assert built[kind].text.split("\n", 1)[0] == REAL_HEADERS[kind]
    assert list(built[kind].facts.header) == built[kind].header


@pytest.mark.parametrize("kind", BUILDERS)
def test_encoding_and_line_ends_are_the_real_ones(built: dict[str, Built], kind: str) -> None:
    data = built[kind].data
    assert not data.startswith(b"\xef\xbb\xbf")
    assert b"\r" not in data
    assert data.endswith(b"\n")
    assert built[kind].facts.encoding == ENCODINGS[kind]
    assert built[kind].facts.newline == "\n"
    if kind == "b2b":
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
        assert b"\x84" in data
        assert b"\xa1" in data
    elif kind != "marketplace":  # the marketplace file happens to be ASCII
        assert not built[kind].text.isascii()


@pytest.mark.parametrize("kind", BUILDERS)
def test_every_row_is_kept_or_rejected_once(built: dict[str, Built], kind: str) -> None:
    facts = built[kind].facts
    assert facts.rows == len(built[kind].rows)
    assert facts.rows == facts.silver_rows + facts.rejected_rows
    assert facts.net_revenue_cents == facts.revenue_cents + facts.return_revenue_cents
    assert facts.net_revenue == Decimal(facts.net_revenue_cents) / 100
    assert facts.first_date <= facts.last_date


@pytest.mark.parametrize("kind", BUILDERS)
def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path, kind: str) -> None:
    builder, small = BUILDERS[kind], SMALL[kind]
    first = builder(tmp_path / "a.csv", seed=7, **small)
    second = builder(tmp_path / "b.csv", seed=7, **small)
    other = builder(tmp_path / "c.csv", seed=8, **small)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert first == second
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "c.csv").read_bytes()
    assert other.rows > 0


def recount(kind: str, rows: list[dict[str, str]]) -> dict[str, object]:
    """Classify each parsed row by this module's reading of the documented rules."""
    reasons: list[str] = []
    kept: list[tuple[str, str, dt.date, int, int]] = []  # order, product, day, units, cents
    returned: list[int] = []
    status_rows: Counter[str] = Counter()
    status_revenue: Counter[str] = Counter()
    seen: set[tuple[str, ...]] = set()
    seen_items: set[tuple[str, str]] = set()
    status_of: dict[str, str] = {}
    if kind == "shopify":
        for row in rows:
            if row["Financial Status"]:
                status_of.setdefault(row["Name"], row["Financial Status"])
    for row in rows:
        values = tuple(row.values())
        status = ""
        if kind == "shopify":
            order, product = row["Name"], row["Lineitem name"]
            day = dt.date.fromisoformat(row["Created at"][:10])
            units, price = int(row["Lineitem quantity"]), cents(row["Lineitem price"])
            amount, status = units * price, status_of[order]
            reason = (
                "duplicate_row" if values in seen
                else "not_a_product" if product.startswith("Gift Card - ")
                else "excluded_status" if status in ("refunded", "voided")
                else "invalid_quantity" if units <= 0
                else "invalid_price" if price <= 0
                else "clean"
            )  # fmt: skip
        elif kind == "online_retail_ii":
            order, product = row["Invoice"], row["StockCode"]
            day = dt.date.fromisoformat(row["InvoiceDate"][:10])
            units, price = int(row["Quantity"]), cents(row["Price"])
            amount = units * price
            charge = product in UCI_NOT_PRODUCTS or product.startswith("gift_0001_")
            reason = (
                "duplicate_row" if values in seen
                else "not_a_product" if charge
                else "invalid_quantity" if order.startswith("C") and units >= 0
                else "invalid_price" if order.startswith("C") and price <= 0
                else "return" if order.startswith("C")
                else "invalid_quantity" if units <= 0
                else "invalid_price" if price <= 0
                else "clean"
            )  # fmt: skip
        elif kind == "b2b":
            order, product, status = row["ORDERNUMBER"], row["PRODUCTCODE"], row["STATUS"]
            day = dt.datetime.strptime(row["ORDERDATE"], "%m/%d/%Y %H:%M").date()
            units, amount = int(row["QUANTITYORDERED"]), cents(row["SALES"])
            reason = (
                "duplicate_row" if values in seen
                else "excluded_status" if status == "Cancelled"
                else "invalid_quantity" if units <= 0
                else "invalid_price" if amount <= 0
                else "clean"
            )  # fmt: skip
        else:
            order, product, status = row["order_id"], row["product_id"], row["order_status"]
            day = dt.date.fromisoformat(row["order_purchase_timestamp"][:10])
            units, amount = 1, cents(row["price"])
            item = (order, row["order_item_id"])
            reason = (
                "duplicate_row" if values in seen
                else "payment_repeat" if item in seen_items
                else "excluded_status" if status in ("canceled", "unavailable")
                else "invalid_price" if amount <= 0
                else "clean"
            )  # fmt: skip
            seen_items.add(item)
        seen.add(values)
        reasons.append(reason)
        if status:
            status_rows[status] += 1
            if reason in ("clean", "excluded_status"):
                status_revenue[status] += amount
        if reason == "clean":
            kept.append((order, product, day, units, amount))
        elif reason == "return":
            returned.append(amount)
    days = [k[2] for k in kept]
    span_months = ((max(days) - min(days)).days + 1) / 30.4375
    per_product = Counter(k[1] for k in kept)
    return {
        "reasons": Counter(reasons),
        "revenue_cents": sum(k[4] for k in kept),
        "return_revenue_cents": sum(returned),
        "units": sum(k[3] for k in kept),
        "orders": len({k[0] for k in kept}),
        "products": len(per_product),
        "first_date": min(days),
        "last_date": max(days),
        "rows_by_status": dict(status_rows),
        "revenue_cents_by_status": dict(status_revenue),
        "sparse_products": sum(1 for n in per_product.values() if n < span_months),
    }


@pytest.mark.parametrize("kind", BUILDERS)
def test_facts_equal_a_recount_of_the_written_rows(built: dict[str, Built], kind: str) -> None:
    facts, counted = built[kind].facts, recount(kind, built[kind].rows)
    reasons = counted["reasons"]
    assert isinstance(reasons, Counter)
    assert facts.clean_rows == reasons["clean"]
    assert facts.return_rows == reasons["return"]
    assert facts.rejections == {
        reason: reasons[reason]
        for reason in (
            "excluded_status",
            "not_a_product",
            "duplicate_row",
            "payment_repeat",
            "invalid_quantity",
            "invalid_price",
        )
    }
    for name in (
        "revenue_cents",
        "return_revenue_cents",
        "units",
        "orders",
        "products",
        "first_date",
        "last_date",
        "rows_by_status",
        "revenue_cents_by_status",
    ):
        assert getattr(facts, name) == counted[name], name
    assert facts.traits["products_selling_less_than_monthly"] == counted["sparse_products"]


@pytest.mark.parametrize(
    ("kind", "reasons"),
    [
        ("shopify", ("excluded_status", "not_a_product", "duplicate_row", "invalid_price")),
        (
            "online_retail_ii",
            ("not_a_product", "duplicate_row", "invalid_quantity", "invalid_price"),
        ),
        ("b2b", ("excluded_status", "duplicate_row")),
        ("marketplace", ("excluded_status", "duplicate_row", "payment_repeat")),
    ],
)
def test_each_file_has_its_realistic_defects(
    built: dict[str, Built], kind: str, reasons: tuple[str, ...]
) -> None:
    rejections = built[kind].facts.rejections
    assert all(rejections[r] > 0 for r in reasons), rejections
    assert all(n == 0 for r, n in rejections.items() if r not in reasons), rejections


# ---------------------------------------------------------------------------- Shopify


def test_shopify_rows_look_like_a_real_orders_export(built: dict[str, Built]) -> None:
    b = built["shopify"]
    offset_time = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}$")
    by_order: defaultdict[str, list[dict[str, str]]] = defaultdict(list)
    for row in b.rows:
        assert re.fullmatch(r"#\d{4,}", row["Name"])
        assert offset_time.match(row["Created at"])
        by_order[row["Name"]].append(row)
    statuses = {rows[0]["Financial Status"] for rows in by_order.values()}
    assert statuses == {"paid", "pending", "refunded", "partially_refunded", "voided", "authorized"}
    assert {row["Created at"][-5:] for row in b.rows} == {"-0500", "-0400"}
    for rows in by_order.values():
        first = rows[0]
        assert first["Financial Status"] and first["Total"] and first["Shipping City"]
        assert re.fullmatch(r"\d+\.\d\d", first["Total"])
        for later in rows[1:]:
            if later == first:  # a repeated order starts over
                continue
            filled = {name for name, value in later.items() if value}
            assert filled <= SHOPIFY_LATER_ROW_FIELDS, filled - SHOPIFY_LATER_ROW_FIELDS
            assert later["Created at"] == first["Created at"]
    names = [int(name[1:]) for name in dict.fromkeys(row["Name"] for row in b.rows)]
    assert names == sorted(names, reverse=True)  # newest first; repeats come after
    assert names[-1] == 1001
    assert any(row["Lineitem name"].startswith("Gift Card - ") for row in b.rows)
    assert any(not row["Lineitem name"].isascii() for row in b.rows)
    assert any("\n" in value for row in b.rows for value in row.values())
    assert all(row["Billing Zip"].startswith("'") for row in b.rows if row["Billing Zip"])
    assert ',"",' in b.text  # empty Note Attributes / Tags written as ""


def test_shopify_voided_orders_are_cancelled(built: dict[str, Built]) -> None:
    firsts = {row["Name"]: row for row in reversed(built["shopify"].rows) if row["Total"]}
    voided = [row for row in firsts.values() if row["Financial Status"] == "voided"]
    assert voided
    assert all(row["Cancelled at"] for row in voided)
    assert built["shopify"].facts.traits["cancelled_orders"] == sum(
        1 for row in firsts.values() if row["Cancelled at"]
    )


# ---------------------------------------------------------------- UCI Online Retail II


def test_online_retail_rows_look_like_the_published_csv(built: dict[str, Built]) -> None:
    b = built["online_retail_ii"]
    assert len(b.rows) == 30_000
    for row in b.rows:
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:00", row["InvoiceDate"])
        assert re.fullmatch(r"(\d{5}\.0)?", row["Customer ID"])
        assert re.fullmatch(r"\d+\.(0|\d?[1-9])", row["Price"]), row["Price"]
        assert re.fullmatch(r"[CA]?\d{6}", row["Invoice"])
        assert dt.date.fromisoformat(row["InvoiceDate"][:10]).weekday() != 5
        if row["Invoice"].startswith("C"):
            assert int(row["Quantity"]) < 0
    days = [row["InvoiceDate"][:10] for row in b.rows]
    assert min(days) >= "2009-12-01" and max(days) <= "2011-12-09"
    codes = {row["StockCode"] for row in b.rows}
    assert {"POST", "DOT", "M", "C2", "D", "BANK CHARGES", "B"} <= codes
    assert any(code.startswith("gift_0001_") for code in codes)
    assert '"' in b.text.split("\n", 1)[1]  # some description needs quoting
    assert any(row["Description"].endswith(" ") for row in b.rows)
    assert "\u00a3" in b.text
    assert b.facts.traits["blank_customer_rows"] == sum(1 for r in b.rows if not r["Customer ID"])


# ---------------------------------------------------------------------- B2B sample


def test_b2b_rows_look_like_the_kaggle_sample(built: dict[str, Built]) -> None:
    b = built["b2b"]
    assert len(b.rows) == 2_823
    assert len({row["PRODUCTCODE"] for row in b.rows}) == 109
    assert b.facts.products == 109
    codes = [row["PRODUCTCODE"] for row in b.rows]
    assert codes == sorted(codes)
    capped = 0
    for row in b.rows:
        day = dt.datetime.strptime(row["ORDERDATE"], "%m/%d/%Y %H:%M").date()
        assert re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4} 0:00", row["ORDERDATE"])
        assert dt.date(2003, 1, 6) <= day <= dt.date(2005, 5, 31)
        assert (row["QTR_ID"], row["MONTH_ID"], row["YEAR_ID"]) == (
            str((day.month - 1) // 3 + 1),
            str(day.month),
            str(day.year),
        )
        assert re.fullmatch(r"\d+(\.\d?[1-9])?", row["PRICEEACH"]), row["PRICEEACH"]
        assert re.fullmatch(r"\d+(\.\d?[1-9])?", row["SALES"]), row["SALES"]
        qty, each, sales = int(row["QUANTITYORDERED"]), cents(row["PRICEEACH"]), cents(row["SALES"])
        assert each <= 10_000
        if each < 10_000:
            assert sales == qty * each
        elif sales != qty * each:
            capped += 1
            assert sales > qty * each
        size = "Small" if sales < 300_000 else "Medium" if sales < 700_000 else "Large"
        assert row["DEALSIZE"] == size
    assert capped > len(b.rows) // 5
    assert {row["STATUS"] for row in b.rows} == {
        "Shipped", "Cancelled", "Resolved", "On Hold", "In Process", "Disputed",
    }  # fmt: skip
    assert {row["TERRITORY"] for row in b.rows if row["COUNTRY"] in ("USA", "Canada")} == {"NA"}
    by_order: defaultdict[str, set[str]] = defaultdict(set)
    for row in b.rows:
        by_order[row["ORDERNUMBER"]].add(row["STATUS"])
    assert all(len(s) == 1 for s in by_order.values())
    kept = {tuple(r.values()): r for r in b.rows if r["STATUS"] != "Cancelled"}.values()
    assert b.facts.traits["price_capped_rows"] == sum(
        1
        for row in kept
        if cents(row["SALES"]) != int(row["QUANTITYORDERED"]) * cents(row["PRICEEACH"])
    )


# -------------------------------------------------------------- marketplace items


def test_marketplace_rows_are_units_repeated_per_payment(built: dict[str, Built]) -> None:
    b = built["marketplace"]
    hex32 = re.compile(r"[0-9a-f]{32}")
    assert "quantity" not in " ".join(b.header)
    payments: defaultdict[str, dict[str, tuple[str, str]]] = defaultdict(dict)
    items: defaultdict[str, set[int]] = defaultdict(set)
    sequences: defaultdict[tuple[str, str], list[int]] = defaultdict(list)
    totals: Counter[str] = Counter()
    unique = list({tuple(r.values()): r for r in b.rows}.values())
    for row in unique:
        for column in ("order_id", "product_id", "seller_id", "customer_id"):
            assert hex32.fullmatch(row[column])
        assert re.fullmatch(r"[a-z_]*", row["product_category_name"])
        assert re.fullmatch(r"\d+\.(0|\d?[1-9])", row["price"]), row["price"]
        order = row["order_id"]
        items[order].add(int(row["order_item_id"]))
        sequences[(order, row["order_item_id"])].append(int(row["payment_sequential"]))
        payments[order][row["payment_sequential"]] = (row["payment_type"], row["payment_value"])
        if row["payment_sequential"] == "1":
            totals[order] += cents(row["price"]) + cents(row["freight_value"])
    for order, ids in items.items():
        assert ids == set(range(1, len(ids) + 1))
        paid = sum(cents(value) for _, value in payments[order].values())
        assert paid == totals[order]
        for item in ids:
            assert sequences[(order, str(item))] == list(range(1, len(payments[order]) + 1))
    assert any(len(p) > 1 for p in payments.values())
    facts = b.facts
    assert 3_500 <= facts.products <= 3_700
    assert 700 <= facts.days <= 731
    sparse = facts.traits["products_selling_less_than_monthly"] / facts.products
    assert 0.96 <= sparse <= 0.99
    assert facts.units == facts.clean_rows


# ------------------------------------------------------------------------ command line


def test_main_writes_one_export_and_prints_its_facts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "raw" / "orders_export_1.csv"
    assert main(["shopify", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    with out.open(encoding="utf-8", newline="") as handle:
        assert printed["rows"] == sum(1 for _ in csv.reader(handle)) - 1
    assert printed["rejections"]["excluded_status"] > 0
    assert main(["nonsense", str(out)]) == 2


def test_module_runs_as_a_script(tmp_path: Path) -> None:
    out = tmp_path / "b2b.csv"
    done = subprocess.run(
        [sys.executable, "-m", "ecom_assets_tests.real_formats", "b2b", str(out)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert json.loads(done.stdout)["rows"] == 2_823
    assert out.read_bytes().count(b"\n") == 2_824


@pytest.mark.parametrize("kind", ["online_retail_ii", "marketplace"])
def test_pandas_written_files_survive_a_pandas_round_trip(
    built: dict[str, Built], kind: str
) -> None:
    """Both files claim pandas `to_csv` formats: reading and writing them again changes nothing."""
    import pandas as pd

    frame = pd.read_csv(built[kind].path, encoding="utf-8")
    assert frame.to_csv(index=False, lineterminator="\n") == built[kind].text
