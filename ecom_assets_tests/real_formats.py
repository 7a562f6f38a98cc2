"""Test exports in the exact formats of four kinds of real shop export, each with its facts.

Each `write_*` function builds one file deterministically from its arguments and seed (same
arguments, same bytes), writes it, and returns `ExportFacts`: what a correct pipeline must find
in it, computed here in plain Python from the written field values (no `ecom_assets` code). Every
row belongs to exactly one class, decided by the rules in the builder's docstring, applied in this
order: duplicate_row, payment_repeat, not_a_product, return, excluded_status, invalid_quantity,
invalid_price, clean. A generated defect row carries one defect only, so the order matters only
where a docstring says so.

Where each format comes from (stored copies of public material, read with the search tool):

Shopify orders export (Shopify admin > Orders > Export, "orders_export_1.csv"):
  - the 79-column header, byte for byte, and rows: real exports in GitHub repositories
    Diptargha/maison_maria_shopify_api @ 2ebeb5b2 orders_export_1.csv,
    zhangerson/shopify_parsing @ 7177a968 orders_export.csv,
    vertexgraphics/formula-rx8-merch @ 4f35058f orders_export_1.csv (LF line ends, counted);
  - a real row parsed field by field: docs.xbp.app/docs/development/integrations/shopify/
    order-format (order-level fields only on an order's first row);
  - financial status values: Shopify API enums (hackage shopify-0 FinancialStatus,
    next.daff.io ShopifyOrderFinancialStatus).
UCI Online Retail II as CSV (the Kaggle "online-retail-ii-uci" copy of online_retail_II.xlsx):
  - header and row format `489434,85048,15CM CHRISTMAS GLASS BALL 20 LIGHTS,12,2009-12-01
    07:45:00,6.95,13085.0,United Kingdom` and `"RECORD FRAME 7"" SINGLE SIZE"`: notebooks
    github.com/Argaadya/online_retail_customer_dashboard, github.com/sid12153/decision-
    intelligence-excel-ml, and a pipeline doc quoting the published file's first row with its
    SHA-256 (id 67148165247 in the code index);
  - non-product stock codes and their descriptions (POST, DOT, M, C2, D, S, BANK CHARGES,
    ADJUST, ADJUST2, AMAZONFEE, CRUK, B, TEST001/TEST002, gift_0001_*): several analyses of the
    data set in the code index; "C" invoices are cancellations (UCI attribute information).
B2B "sales_data_sample.csv" (Kaggle sample sales data):
  - header, order, `2/24/2003 0:00` dates, minimal numbers (`2871`, `95.7`, `100`), TERRITORY
    `NA`, blanks, quoting: copies in clebervisconti/datasets, Ankita-Kulkarni/K-means-Clustering,
    Testolog/petSpark, JeraldTing/AgileDataScience (sorted by PRODUCTCODE, LF line ends);
  - PRICEEACH capped at 100 while SALES is the true total: rows such as `10159,49,100,14,5205.27`
    and `10188,48,100,1,5512.32` in those copies; uncapped rows give SALES = qty x price;
  - single-byte encoding: the copies show the bytes as `Berguvsv\u201egen` / `Mart\u00a1n`
    (0x84 / 0xA1 read as Windows-1252) and code notes that UTF-8 decoding fails.
Marketplace order items (Olist Brazilian e-commerce data set):
  - columns of olist_order_items_dataset, olist_orders_dataset, olist_products_dataset and
    olist_order_payments_dataset, value formats, Portuguese category names, blank categories:
    ArielCastilla/DEMO-B-olist-ecommerce-data @ 7d1f7469 (the four CSV files).
  - the joined file itself is assumed: a user's pandas merge of those four files written with
    `to_csv(index=False)` (floats lose trailing zeros: 58.90 -> 58.9).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType

import numpy as np

REASONS = (
    "excluded_status",
    "not_a_product",
    "duplicate_row",
    "payment_repeat",
    "invalid_quantity",
    "invalid_price",
)
"""Rejection reasons the facts count (besides rows kept as clean sales or as returns)."""

SHOPIFY_HEADER = (
    "Name",
    "Email",
    "Financial Status",
    "Paid at",
    "Fulfillment Status",
    "Fulfilled at",
    "Accepts Marketing",
    "Currency",
    "Subtotal",
    "Shipping",
    "Taxes",
    "Total",
    "Discount Code",
    "Discount Amount",
    "Shipping Method",
    "Created at",
    "Lineitem quantity",
    "Lineitem name",
    "Lineitem price",
    "Lineitem compare at price",
    "Lineitem sku",
    "Lineitem requires shipping",
    "Lineitem taxable",
    "Lineitem fulfillment status",
    "Billing Name",
    "Billing Street",
    "Billing Address1",
    "Billing Address2",
    "Billing Company",
    "Billing City",
    "Billing Zip",
    "Billing Province",
    "Billing Country",
    "Billing Phone",
    "Shipping Name",
    "Shipping Street",
    "Shipping Address1",
    "Shipping Address2",
    "Shipping Company",
    "Shipping City",
    "Shipping Zip",
    "Shipping Province",
    "Shipping Country",
    "Shipping Phone",
    "Notes",
    "Note Attributes",
    "Cancelled at",
    "Payment Method",
    "Payment Reference",
    "Refunded Amount",
    "Vendor",
    "Outstanding Balance",
    "Employee",
    "Location",
    "Device ID",
    "Id",
    "Tags",
    "Risk Level",
    "Source",
    "Lineitem discount",
    "Tax 1 Name",
    "Tax 1 Value",
    "Tax 2 Name",
    "Tax 2 Value",
    "Tax 3 Name",
    "Tax 3 Value",
    "Tax 4 Name",
    "Tax 4 Value",
    "Tax 5 Name",
    "Tax 5 Value",
    "Phone",
    "Receipt Number",
    "Duties",
    "Billing Province Name",
    "Shipping Province Name",
    "Payment ID",
    "Payment Terms Name",
    "Next Payment Due At",
    "Payment References",
)
SHOPIFY_EXCLUDED_STATUSES = ("refunded", "voided")
SHOPIFY_LINE_FIELDS = (
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
)
"""The only fields a real export fills on an order's second and later line-item rows."""

ONLINE_RETAIL_II_HEADER = (
    "Invoice",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "Price",
    "Customer ID",
    "Country",
)
ONLINE_RETAIL_NON_PRODUCT_CODES = (
    "POST",
    "DOT",
    "M",
    "C2",
    "D",
    "S",
    "BANK CHARGES",
    "AMAZONFEE",
    "CRUK",
    "B",
    "ADJUST",
    "ADJUST2",
    "TEST001",
    "TEST002",
)
ONLINE_RETAIL_GIFT_PREFIX = "gift_0001_"

B2B_HEADER = (
    "ORDERNUMBER",
    "QUANTITYORDERED",
    "PRICEEACH",
    "ORDERLINENUMBER",
    "SALES",
    "ORDERDATE",
    "STATUS",
    "QTR_ID",
    "MONTH_ID",
    "YEAR_ID",
    "PRODUCTLINE",
    "MSRP",
    "PRODUCTCODE",
    "CUSTOMERNAME",
    "PHONE",
    "ADDRESSLINE1",
    "ADDRESSLINE2",
    "CITY",
    "STATE",
    "POSTALCODE",
    "COUNTRY",
    "TERRITORY",
    "CONTACTLASTNAME",
    "CONTACTFIRSTNAME",
    "DEALSIZE",
)
B2B_STATUSES = ("Shipped", "Cancelled", "Resolved", "On Hold", "In Process", "Disputed")
B2B_EXCLUDED_STATUSES = ("Cancelled",)

MARKETPLACE_HEADER = (
    "order_id",
    "order_item_id",
    "product_id",
    "seller_id",
    "shipping_limit_date",
    "price",
    "freight_value",
    "customer_id",
    "order_status",
    "order_purchase_timestamp",
    "product_category_name",
    "payment_sequential",
    "payment_type",
    "payment_installments",
    "payment_value",
)
MARKETPLACE_EXCLUDED_STATUSES = ("canceled", "unavailable")

DAYS_PER_MONTH = 30.4375


@dataclass(frozen=True)
class ExportFacts:
    """What one built export holds, counted from the rows it wrote.

    Every data row is exactly one of: clean (a sale kept in silver), return (kept in silver as
    a return line with negative quantity and revenue), or rejected for one of REASONS.
    Money is in integer cents; dates are the local calendar dates written in the file.
    """

    kind: str
    encoding: str
    newline: str
    header: tuple[str, ...]
    rows: int
    clean_rows: int
    return_rows: int
    excluded_status_rows: int
    not_a_product_rows: int
    duplicate_rows: int
    payment_repeat_rows: int
    invalid_quantity_rows: int
    invalid_price_rows: int
    revenue_cents: int
    return_revenue_cents: int
    units: int
    return_units: int
    orders: int
    products: int
    first_date: dt.date
    last_date: dt.date
    rows_by_status: Mapping[str, int] = field(default_factory=dict)
    revenue_cents_by_status: Mapping[str, int] = field(default_factory=dict)
    traits: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("rows_by_status", "revenue_cents_by_status", "traits"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    @property
    def rejections(self) -> dict[str, int]:
        """Rejected rows by reason (all REASONS, zero where none)."""
        return {
            "excluded_status": self.excluded_status_rows,
            "not_a_product": self.not_a_product_rows,
            "duplicate_row": self.duplicate_rows,
            "payment_repeat": self.payment_repeat_rows,
            "invalid_quantity": self.invalid_quantity_rows,
            "invalid_price": self.invalid_price_rows,
        }

    @property
    def rejected_rows(self) -> int:
        return sum(self.rejections.values())

    @property
    def silver_rows(self) -> int:
        """Rows a correct pipeline keeps: clean sales plus return lines."""
        return self.clean_rows + self.return_rows

    @property
    def net_revenue_cents(self) -> int:
        """Revenue of clean sales plus the (negative) revenue of returns."""
        return self.revenue_cents + self.return_revenue_cents

    @property
    def net_revenue(self) -> Decimal:
        return Decimal(self.net_revenue_cents).scaleb(-2)

    @property
    def days(self) -> int:
        """Calendar days from the first to the last clean sale, both included."""
        return (self.last_date - self.first_date).days + 1

    def as_dict(self) -> dict[str, object]:
        """Plain JSON-ready values, with the derived totals."""
        values: dict[str, object] = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if isinstance(value, Mapping):
                value = dict(value)
            elif isinstance(value, dt.date):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = list(value)
            values[item.name] = value
        values["rejections"] = self.rejections
        values["silver_rows"] = self.silver_rows
        values["net_revenue_cents"] = self.net_revenue_cents
        return values


@dataclass(frozen=True)
class _Verdict:
    """The class of one written row and what it contributes when kept."""

    reason: str
    order: str = ""
    product: str = ""
    day: dt.date | None = None
    units: int = 0
    cents: int = 0
    status: str | None = None


class _Quoted(str):
    """A field value the real exporter writes in quotes even when it needs none (`""`)."""

    __slots__ = ()


# ---------------------------------------------------------------- shared formatting helpers


def _rng(seed: int, kind: int) -> np.random.Generator:
    return np.random.default_rng([seed, kind])


def _field(value: str) -> str:
    if isinstance(value, _Quoted) or any(ch in value for ch in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _render(
    header: Sequence[str], rows: Iterable[Sequence[str]], newline: str, *, final: bool = True
) -> str:
    lines = [",".join(_field(h) for h in header)]
    lines.extend(",".join(_field(v) for v in row) for row in rows)
    return newline.join(lines) + (newline if final else "")


def _fixed2(cents: int) -> str:
    """12.30 (always two decimals, as Shopify writes money)."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _short(cents: int) -> str:
    """12.3 / 12 (trailing zeros dropped, as a spreadsheet's General format writes numbers)."""
    text = _fixed2(cents).rstrip("0").rstrip(".")
    return "0" if text in ("", "-", "-0") else text


def _pandas_float(cents: int) -> str:
    """12.3 / 12.0 (the shortest float text, as pandas `to_csv` writes a float column)."""
    text = _fixed2(cents).rstrip("0")
    return text + "0" if text.endswith(".") else text


def _cents(text: str) -> int:
    """Exact cents of a decimal text with at most two decimals."""
    value = Decimal(text) * 100
    if value != value.to_integral_value():
        raise ValueError(f"{text!r} has more than two decimals")
    return int(value)


def _hex_ids(rng: np.random.Generator, count: int) -> list[str]:
    seen: set[str] = set()
    ids: list[str] = []
    while len(ids) < count:
        raw = rng.integers(0, 16, size=(count - len(ids), 32))
        for digits in raw:
            text = "".join("0123456789abcdef"[d] for d in digits)
            if text not in seen:
                seen.add(text)
                ids.append(text)
    return ids


def _pick(rng: np.random.Generator, options: Sequence[str], weights: Sequence[float]) -> str:
    p = np.asarray(weights, dtype=float)
    return options[int(rng.choice(len(options), p=p / p.sum()))]


def _facts(
    kind: str,
    encoding: str,
    newline: str,
    header: Sequence[str],
    verdicts: Sequence[_Verdict],
    traits: Mapping[str, int],
) -> ExportFacts:
    counts = Counter(v.reason for v in verdicts)
    unknown = set(counts) - {"clean", "return", *REASONS}
    if unknown:
        raise AssertionError(f"unknown row classes {unknown}")
    clean = [v for v in verdicts if v.reason == "clean"]
    returns = [v for v in verdicts if v.reason == "return"]
    if not clean:
        raise ValueError("the export has no clean line; ask for more rows")
    days = [v.day for v in clean if v.day is not None]
    first, last = min(days), max(days)
    months = ((last - first).days + 1) / DAYS_PER_MONTH
    per_product = Counter(v.product for v in clean)
    by_status: Counter[str] = Counter()
    revenue_by_status: Counter[str] = Counter()
    for v in verdicts:
        if v.status is not None:
            by_status[v.status] += 1
            if v.reason in ("clean", "excluded_status"):
                revenue_by_status[v.status] += v.cents
    return ExportFacts(
        kind=kind,
        encoding=encoding,
        newline=newline,
        header=tuple(header),
        rows=len(verdicts),
        clean_rows=len(clean),
        return_rows=len(returns),
        excluded_status_rows=counts["excluded_status"],
        not_a_product_rows=counts["not_a_product"],
        duplicate_rows=counts["duplicate_row"],
        payment_repeat_rows=counts["payment_repeat"],
        invalid_quantity_rows=counts["invalid_quantity"],
        invalid_price_rows=counts["invalid_price"],
        revenue_cents=sum(v.cents for v in clean),
        return_revenue_cents=sum(v.cents for v in returns),
        units=sum(v.units for v in clean),
        return_units=sum(v.units for v in returns),
        orders=len({v.order for v in clean}),
        products=len(per_product),
        first_date=first,
        last_date=last,
        rows_by_status=dict(sorted(by_status.items())),
        revenue_cents_by_status=dict(sorted(revenue_by_status.items())),
        traits={
            **traits,
            "products_selling_less_than_monthly": sum(
                1 for n in per_product.values() if n < months
            ),
        },
    )


def _check_labels(labels: Sequence[str], verdicts: Sequence[_Verdict]) -> None:
    """The rows the generator meant as each class are the ones the rules classify so."""
    for number, (label, verdict) in enumerate(zip(labels, verdicts, strict=True), start=1):
        if label != verdict.reason:
            raise AssertionError(f"row {number}: built as {label}, classified {verdict.reason}")


def _table(text: str) -> tuple[tuple[str, ...], ...]:
    """Rows of a `|`-separated table kept in the source as text."""
    return tuple(tuple(line.split("|")) for line in text.strip().splitlines())


def _write(path: str | Path, text: str, encoding: str) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(text.encode(encoding))
    return target


# ----------------------------------------------------------------------------- Shopify


_STORE = "Hearth & Herb"
# title | vendor | price cents | compare-at cents (0: none) | SKU stem (blank: no SKU) | variants
_SHOPIFY_CATALOGUE = _table(
    """
Cr\u00e8me Br\u00fbl\u00e9e Soy Candle|Maison Lumi\u00e8re|2400|0|CBC|8 oz;16 oz
Caf\u00e9 Latte Mug|Kiln & Co|1800|2200|MUG-CL|Ivory;Sage;Charcoal
Jalape\u00f1o Honey Hot Sauce \U0001f336\ufe0f|Fuego Pantry|1200|0||
Tee "Classic", Organic Cotton|Northbound|2800|0|TEE-CL|Navy / M;Navy / L;Heather Grey / S
Wool Beanie \u2744\ufe0f|Northbound|3200|3800|BEANIE|Oat;Forest
Linen Napkins, Set of 4|Kiln & Co|3600|0|NAP-4|Natural;Rust
Na\u00efve Botanical Print|Atelier Fleur|2200|0||A4;A3
Sm\u00f8rrebr\u00f8d Cutting Board|Nordhus|5400|0|BOARD-OAK|
Matcha Whisk Set \U0001f375|Kyoto Leaf|3900|4500|MATCHA|
A\u00e7a\u00ed Lip Balm|Fuego Pantry|650|0|LIP-ACAI|Single;3-pack
Beeswax Food Wraps|Hive Goods|1800|0|WRAP-3|
Gro\u00dfe Weekender Tote|Nordhus|8900|11000|TOTE-GR|Black;Olive
Pi\u00f1a Colada Bath Bomb|Hive Goods|700|0||
Ceramic Pour-Over Dripper|Kiln & Co|3400|0|DRIP-1|White;Speckled
Hand-Poured Taper Candles (pair)|Maison Lumi\u00e8re|1600|0|TAPER-2|Blush;Ivory
Cotton Rope Basket|Nordhus|4200|0|BASKET|Small;Large
"""
)
_GIFT_CARDS = (2500, 5000, 10000)
_FREE_GIFT = ("Free Gift - Lavender Sachet", "Hive Goods", "GIFT-LAV")
_FIRST_NAMES = (
    "Emma",
    "Liam",
    "Jos\u00e9",
    "Zo\u00eb",
    "Chlo\u00e9",
    "Noah",
    "Bj\u00f6rn",
    "Siobh\u00e1n",
    "Mia",
    "Ethan",
    "Ren\u00e9e",
    "Omar",
    "Ava",
    "Lucas",
    "In\u00e9s",
    "Hana",
)
_LAST_NAMES = (
    "Smith",
    "\u00c1lvarez",
    "O'Neil",
    "M\u00fcller",
    "Nakamura",
    "Johnson",
    "Garc\u00eda",
    "Nguyen",
    "Brown",
    "Fran\u00e7ois",
    "Kowalski",
    "Chen",
    "Wright",
    "Dub\u00e9",
)
# (code, name, city, zip prefix, tax rate in hundredths of a percent)
_US_STATES = (
    ("MA", "Massachusetts", "Boston", "021", 625),
    ("NY", "New York", "Brooklyn", "112", 400),
    ("NJ", "New Jersey", "Hoboken", "070", 663),
    ("CA", "California", "Oakland", "946", 725),
    ("TX", "Texas", "Austin", "787", 625),
    ("IL", "Illinois", "Chicago", "606", 625),
    ("WA", "Washington", "Seattle", "981", 650),
    ("VT", "Vermont", "Burlington", "054", 600),
    ("CO", "Colorado", "Denver", "802", 290),
)
_STREETS = ("Elm St", "Maple Ave", "Harbor Rd", "Pine Ct", "Cedar Ln", "Main St, Apt 3", "Oak Dr")
_NOTES = (
    "Please leave at the back door, thanks!",
    "Gift wrap please.\nHappy birthday, Sam!",
    "Ring twice \U0001f642",
)
_NOTE_ATTRIBUTES = ("utm_source: instagram\nutm_medium: paid\nutm_campaign: spring", "gift: yes")
_SHOPIFY_STATUSES = ("paid", "partially_refunded", "refunded", "voided", "pending", "authorized")
_SHOPIFY_STATUS_WEIGHTS = (80, 3, 6, 3, 4, 4)


def _eastern_offset(moment: dt.datetime) -> str:
    """US Eastern offset of a local wall time (second Sunday of March to first of November)."""
    march = dt.date(moment.year, 3, 1)
    november = dt.date(moment.year, 11, 1)
    dst_start = dt.datetime.combine(
        march + dt.timedelta(days=(6 - march.weekday()) % 7 + 7), dt.time(2)
    )
    dst_end = dt.datetime.combine(
        november + dt.timedelta(days=(6 - november.weekday()) % 7), dt.time(2)
    )
    return "-0400" if dst_start <= moment < dst_end else "-0500"


def _shopify_time(moment: dt.datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} {_eastern_offset(moment)}"


def _token(rng: np.random.Generator, length: int = 25) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(alphabet[i] for i in rng.integers(0, len(alphabet), length))


def write_shopify_orders(path: str | Path, *, orders: int = 400, seed: int = 0) -> ExportFacts:
    """Write a Shopify admin "Export orders" CSV of `orders` orders placed in 2023.

    The file: UTF-8 without BOM, LF line ends, the real 79-column header, one row per line item,
    orders newest first (`#1001` is the oldest). Order-level fields (Financial Status, Paid at,
    totals, addresses, Cancelled at, Payment Method, Tags, ...) are on an order's first row only;
    later rows of the order fill only SHOPIFY_LINE_FIELDS (Name, Email, Created at, the Lineitem
    fields, Vendor, Lineitem discount, Phone), as real exports do. `Created at` is local time
    with its offset (`2023-03-12 10:23:45 -0400`, US Eastern with daylight saving). Money has two
    decimals; numeric zip codes carry Shopify's leading apostrophe (`'02134`); empty Note
    Attributes, Tags and Discount Code are written `""`, an empty compare-at price or SKU on a
    later row too; Notes and Note Attributes may hold commas and line breaks (quoted); product
    names carry accents, emoji, quotes and commas; some products have no SKU.

    Rows, in the order the rules apply (an order's status is the Financial Status on the first
    row bearing its Name):
    - duplicate_row: an exact copy of an earlier row. Two whole orders (all their rows) are
      repeated at the end of the file, as when an overlapping export is pasted on.
    - not_a_product: a gift card line item (Lineitem name starting "Gift Card - ", no shipping,
      not taxable).
    - excluded_status: every row of an order whose Financial Status is refunded or voided
      (SHOPIFY_EXCLUDED_STATUSES); voided and some refunded orders also have Cancelled at.
    - invalid_price: a free gift line (Lineitem price 0.00) added to some orders.
    - clean: every other row; paid, partially_refunded (kept whole: the refund is order-level),
      pending and authorized orders. Revenue is Lineitem quantity x Lineitem price (Lineitem
      discount is 0.00 throughout; order-level discounts lower Subtotal only). Products are
      counted by Lineitem name (SKU is blank for some); orders by Name.
    Gift cards and free gifts are only in orders of kept statuses, and only clean orders are
    repeated, so each row has one defect. traits: orders_in_file, multi_line_orders,
    clean_rows_without_sku, rows_with_line_breaks (rows with a quoted line break in a field),
    zip_codes_with_apostrophe, partially_refunded_rows, cancelled_orders.
    """
    rng = _rng(seed, 1)
    if orders < 10:
        raise ValueError("orders must be at least 10")
    variants: list[tuple[str, str, int, int, str]] = []
    for title, brand, list_price, compare_at, stem, options in _SHOPIFY_CATALOGUE:
        for number, option in enumerate(options.split(";"), start=1):
            label = f"{title} - {option}" if option else title
            code = f"{stem}-{number:02d}" if stem and option else stem
            variants.append((label, brand, int(list_price), int(compare_at), code))
    popularity = 1.0 / (np.arange(len(variants)) + 3.0)
    popularity = rng.permutation(popularity)

    statuses = [_pick(rng, _SHOPIFY_STATUSES, _SHOPIFY_STATUS_WEIGHTS) for _ in range(orders)]
    for position, status in zip(
        rng.choice(orders, len(_SHOPIFY_STATUSES), replace=False), _SHOPIFY_STATUSES, strict=True
    ):
        if status not in statuses:
            statuses[int(position)] = status
    start = dt.datetime(2023, 1, 2, 7, 0)
    seconds = np.sort(rng.uniform(0, 362 * 86400, orders))
    base_id = 5_012_304_000_000

    blocks: list[tuple[list[list[str]], list[str]]] = []
    for index in range(orders):
        status = statuses[index]
        kept = status not in SHOPIFY_EXCLUDED_STATUSES
        created = start + dt.timedelta(seconds=int(seconds[index]))
        name = f"#{1001 + index}"
        first_name = _FIRST_NAMES[int(rng.integers(len(_FIRST_NAMES)))]
        last_name = _LAST_NAMES[int(rng.integers(len(_LAST_NAMES)))]
        email = f"{first_name.lower()}.{last_name.lower()}{int(rng.integers(1, 99))}@example.com"
        email = email.encode("ascii", "ignore").decode().replace("'", "")
        size = int(rng.choice([1, 2, 3, 4, 5], p=[0.58, 0.25, 0.1, 0.05, 0.02]))
        picked = rng.choice(
            len(variants), size=size, replace=False, p=popularity / popularity.sum()
        )
        lines: list[tuple[str, str, int, int, str, int, bool, str]] = []
        for v in picked:
            vname, vendor, price, compare, sku = variants[int(v)]
            qty = int(rng.choice([1, 2, 3, 4], p=[0.76, 0.17, 0.05, 0.02]))
            lines.append((vname, vendor, price, compare, sku, qty, True, "clean"))
        if kept and rng.random() < 0.03:
            amount = _GIFT_CARDS[int(rng.integers(len(_GIFT_CARDS)))]
            gift = (
                f"Gift Card - ${amount // 100}",
                _STORE,
                amount,
                0,
                "",
                1,
                False,
                "not_a_product",
            )
            lines.insert(int(rng.integers(len(lines) + 1)), gift)
        if kept and rng.random() < 0.03:
            lines.append(
                (_FREE_GIFT[0], _FREE_GIFT[1], 0, 0, _FREE_GIFT[2], 1, True, "invalid_price")
            )
        state, state_name, city, zip_prefix, rate = _US_STATES[int(rng.integers(len(_US_STATES)))]
        zip_code = f"'{zip_prefix}{int(rng.integers(0, 100)):02d}"
        street = f"{int(rng.integers(1, 999))} {_STREETS[int(rng.integers(len(_STREETS)))]}"
        phone = (
            f"+1{int(rng.integers(201, 989))}555{int(rng.integers(0, 10000)):04d}"
            if rng.random() < 0.4
            else ""
        )
        goods = sum(line[2] * line[5] for line in lines)
        code = "WELCOME10" if rng.random() < 0.15 else ""
        discount = goods // 10 if code else 0
        subtotal = goods - discount
        shipping = 0 if subtotal >= 5000 else 595
        taxable = sum(line[2] * line[5] for line in lines if line[6])
        taxes = max(0, taxable - discount) * rate // 10000
        total = subtotal + shipping + taxes
        paid = status in ("paid", "partially_refunded", "refunded")
        cancelled = status == "voided" or (status == "refunded" and rng.random() < 0.6)
        fulfilled = status in ("paid", "partially_refunded") and rng.random() < 0.85
        fulfilled = fulfilled or (status == "refunded" and not cancelled)
        refunded = (
            total
            if status == "refunded"
            else (lines[0][2] if status == "partially_refunded" else 0)
        )
        outstanding = total if status in ("pending", "authorized") else 0
        reference = _token(rng)
        note = _NOTES[int(rng.integers(len(_NOTES)))] if rng.random() < 0.05 else ""
        attributes = (
            _NOTE_ATTRIBUTES[int(rng.integers(len(_NOTE_ATTRIBUTES)))]
            if rng.random() < 0.06
            else ""
        )
        tags = ("VIP", "wholesale, repeat")[int(rng.integers(2))] if rng.random() < 0.08 else ""
        person = f"{first_name} {last_name}"
        moment = _shopify_time(created)
        rows: list[list[str]] = []
        order_labels: list[str] = []
        for number, (vname, vendor, price, compare, sku, qty, ships, label) in enumerate(lines):
            line_status = "fulfilled" if fulfilled or not ships else "pending"
            row = dict.fromkeys(SHOPIFY_HEADER, "")
            row.update(
                {
                    "Name": name,
                    "Email": email,
                    "Created at": moment,
                    "Lineitem quantity": str(qty),
                    "Lineitem name": vname,
                    "Lineitem price": _fixed2(price),
                    "Lineitem compare at price": _fixed2(compare)
                    if compare
                    else ("" if number == 0 else _Quoted()),
                    "Lineitem sku": sku or ("" if number == 0 else _Quoted()),
                    "Lineitem requires shipping": "true" if ships else "false",
                    "Lineitem taxable": "true" if ships else "false",
                    "Lineitem fulfillment status": line_status,
                    "Vendor": vendor,
                    "Lineitem discount": "0.00",
                    "Phone": phone,
                }
            )
            if number == 0:
                later = created + dt.timedelta(seconds=int(rng.integers(20, 3600)))
                row.update(
                    {
                        "Financial Status": status,
                        "Paid at": _shopify_time(created + dt.timedelta(seconds=1)) if paid else "",
                        "Fulfillment Status": "fulfilled" if fulfilled else "unfulfilled",
                        "Fulfilled at": _shopify_time(later + dt.timedelta(days=1))
                        if fulfilled
                        else "",
                        "Accepts Marketing": "yes" if rng.random() < 0.35 else "no",
                        "Currency": "USD",
                        "Subtotal": _fixed2(subtotal),
                        "Shipping": _fixed2(shipping),
                        "Taxes": _fixed2(taxes),
                        "Total": _fixed2(total),
                        "Discount Code": code or _Quoted(),
                        "Discount Amount": _fixed2(discount),
                        "Shipping Method": "Free Shipping"
                        if shipping == 0
                        else "Standard Shipping",
                        **{
                            f"{side} {part}": value
                            for side in ("Billing", "Shipping")
                            for part, value in (
                                ("Name", person),
                                ("Street", street),
                                ("Address1", street),
                                ("City", city),
                                ("Zip", zip_code),
                                ("Province", state),
                                ("Country", "US"),
                                ("Phone", phone),
                                ("Province Name", state_name),
                            )
                        },
                        "Notes": note,
                        "Note Attributes": attributes or _Quoted(),
                        "Cancelled at": _shopify_time(later) if cancelled else "",
                        "Payment Method": "Shopify Payments"
                        if rng.random() < 0.88
                        else "PayPal Express Checkout",
                        "Payment Reference": reference,
                        "Refunded Amount": _fixed2(refunded),
                        "Outstanding Balance": _fixed2(outstanding),
                        "Id": str(base_id + index * 7919 + int(rng.integers(0, 7000))),
                        "Tags": tags or _Quoted(),
                        "Risk Level": "Low" if rng.random() < 0.95 else "Medium",
                        "Source": _pick(rng, ("web", "shopify_draft_order", "580111"), (90, 4, 6)),
                        "Tax 1 Name": f"{state} State Tax {rate / 100:g}%",
                        "Tax 1 Value": _fixed2(taxes),
                        "Payment ID": reference,
                        "Payment References": reference,
                    }
                )
            if len(row) != len(SHOPIFY_HEADER):
                raise AssertionError(f"fields outside the header: {set(row) - set(SHOPIFY_HEADER)}")
            rows.append([row[h] for h in SHOPIFY_HEADER])
            order_labels.append(label if kept else "excluded_status")
        blocks.append((rows, order_labels))

    body: list[list[str]] = []
    labels: list[str] = []
    for rows, block_labels in reversed(blocks):
        body.extend(rows)
        labels.extend(block_labels)
    plain = [i for i, (_, block_labels) in enumerate(blocks) if set(block_labels) == {"clean"}]
    for i in sorted(int(x) for x in rng.choice(plain, size=2, replace=False)):
        body.extend(list(row) for row in blocks[i][0])
        labels.extend("duplicate_row" for _ in blocks[i][0])

    verdicts = _classify_shopify(body)
    _check_labels(labels, verdicts)
    position = {h: i for i, h in enumerate(SHOPIFY_HEADER)}
    clean_rows = [row for row, v in zip(body, verdicts, strict=True) if v.reason == "clean"]
    traits = {
        "orders_in_file": len({row[position["Name"]] for row in body}),
        "multi_line_orders": sum(1 for rows, _ in blocks if len(rows) > 1),
        "clean_rows_without_sku": sum(1 for row in clean_rows if not row[position["Lineitem sku"]]),
        "rows_with_line_breaks": sum(1 for row in body if any("\n" in value for value in row)),
        "zip_codes_with_apostrophe": sum(
            1 for row in body if row[position["Billing Zip"]].startswith("'")
        ),
        "partially_refunded_rows": sum(1 for v in verdicts if v.status == "partially_refunded"),
        "cancelled_orders": len(
            {row[position["Name"]] for row in body if row[position["Cancelled at"]]}
        ),
    }
    text = _render(SHOPIFY_HEADER, body, "\n")
    _write(path, text, "utf-8")
    return _facts("shopify_orders", "utf-8", "\n", SHOPIFY_HEADER, verdicts, traits)


def _classify_shopify(rows: Sequence[Sequence[str]]) -> list[_Verdict]:
    position = {h: i for i, h in enumerate(SHOPIFY_HEADER)}
    status_of: dict[str, str] = {}
    for row in rows:
        name, status = row[position["Name"]], row[position["Financial Status"]]
        if status and name not in status_of:
            status_of[name] = status
    seen: set[tuple[str, ...]] = set()
    verdicts: list[_Verdict] = []
    for row in rows:
        key = tuple(row)
        name = row[position["Name"]]
        status = status_of[name]
        qty = int(row[position["Lineitem quantity"]])
        price = _cents(row[position["Lineitem price"]])
        if key in seen:
            reason = "duplicate_row"
        elif row[position["Lineitem name"]].startswith("Gift Card - "):
            reason = "not_a_product"
        elif status in SHOPIFY_EXCLUDED_STATUSES:
            reason = "excluded_status"
        elif qty <= 0:
            reason = "invalid_quantity"
        elif price <= 0:
            reason = "invalid_price"
        else:
            reason = "clean"
        seen.add(key)
        verdicts.append(
            _Verdict(
                reason=reason,
                order=name,
                product=row[position["Lineitem name"]],
                day=dt.date.fromisoformat(row[position["Created at"]][:10]),
                units=qty,
                cents=qty * price,
                status=status,
            )
        )
    return verdicts


# ------------------------------------------------------------------ UCI Online Retail II


_COLOURS = (
    "RED",
    "PINK",
    "BLUE",
    "WHITE",
    "IVORY",
    "GREEN",
    "BLACK",
    "CREAM",
    "ANTIQUE SILVER",
    "VINTAGE",
    "RETROSPOT",
    "POLKADOT",
    "PASTEL",
    "GOLD",
    "SKY BLUE",
    "HOT PINK",
)
_MOTIFS = (
    "HANGING HEART",
    "SPACEBOY",
    "DOLLY GIRL",
    "WOODLAND",
    "I LOVE LONDON",
    "PAISLEY",
    "SKULLS",
    "STRAWBERRY",
    "CHRISTMAS",
    "BIRDHOUSE",
    "REGENCY",
    "PANTRY",
    "BABUSHKA",
    "UNION JACK",
    "CIRCUS PARADE",
    "JAM MAKING",
    "ENGLISH ROSE",
    "CHERRY BLOSSOM",
)
_ITEMS = (
    "T-LIGHT HOLDER",
    "LUNCH BAG",
    "JUMBO BAG",
    "CAKE CASES",
    "DOORMAT",
    "HOT WATER BOTTLE",
    "METAL SIGN",
    "CHARLOTTE BAG",
    "WALL CLOCK",
    "BUNTING",
    "NAPKINS",
    "DRAWER KNOB",
    "PHOTO FRAME",
    "GIFT TAPE",
    "TEA TOWELS",
    "MUG",
    "JIGSAW",
    "ALARM CLOCK BAKELIKE",
    "PICNIC BASKET",
    "PLASTERS IN TIN",
    "GLASS BALL 20 LIGHTS",
    'RECORD FRAME 7" SINGLE SIZE',
    "NOTEBOOK",
    "PARASOL",
    "CUSHION COVER",
    "TRINKET BOX",
    "CAKESTAND 3 TIER",
    "PEG BAG",
    "BIRTHDAY CARD, RETRO SPOT",
    "KEY FOB , FRONT  DOOR",
)
_PREFIXES = ("", "", "", "SET OF 3 ", "PACK OF 12 ", "SMALL ", "LARGE ", "SET/6 ")
_COUNTRIES = (
    ("United Kingdom", 88),
    ("EIRE", 2),
    ("Germany", 2),
    ("France", 2),
    ("Netherlands", 1),
    ("Spain", 1),
    ("Belgium", 1),
    ("Switzerland", 1),
    ("Australia", 0.5),
    ("Channel Islands", 0.5),
    ("Norway", 0.4),
    ("USA", 0.3),
    ("RSA", 0.2),
    ("Unspecified", 0.1),
)
_ADJUSTMENT_NOTES = ("damaged", "?", "check", "missing", "", "wet/rusty", "Found", "")
# (code, description, price cents, on a cancellation invoice)
_RETAIL_CHARGES = (
    ("POST", "POSTAGE", 1800, False),
    ("DOT", "DOTCOM POSTAGE", 0, False),
    ("M", "Manual", 0, False),
    ("C2", "CARRIAGE", 5000, False),
    ("BANK CHARGES", "Bank Charges", 1500, False),
    ("ADJUST", "Adjustment by john on 26/01/2010 16", 0, False),
    ("TEST001", "This is a test product.", 450, False),
    ("gift_0001_20", "Dotcomgiftshop Gift Voucher \u00a320.00", 1667, False),
    ("gift_0001_10", "Dotcomgiftshop Gift Voucher \u00a310.00", 833, False),
    ("D", "Discount", 0, True),
    ("S", "SAMPLES", 0, True),
    ("AMAZONFEE", "AMAZON FEE", 0, True),
    ("CRUK", "CRUK Commission", 0, True),
    ("M", "Manual", 0, True),
)


_RETAIL_QUANTITIES = (1, 2, 3, 4, 6, 8, 10, 12, 24, 36, 48, 96)
_RETAIL_QUANTITY_WEIGHTS = (0.12, 0.12, 0.08, 0.1, 0.14, 0.06, 0.06, 0.16, 0.09, 0.03, 0.03, 0.01)


def _split(rng: np.random.Generator, total: int, draw: Callable[[], int]) -> list[int]:
    """Sizes from `draw` (each at least 1) that add up to exactly `total`."""
    sizes: list[int] = []
    while sum(sizes) < total:
        sizes.append(max(1, draw()))
    sizes[-1] -= sum(sizes) - total
    return [s for s in sizes if s > 0]


def _retail_calendar() -> list[dt.date]:
    """Trading days 2009-12-01 to 2011-12-09: no Saturdays, closed 23 Dec to 3 Jan."""
    day, end, days = dt.date(2009, 12, 1), dt.date(2011, 12, 9), []
    while day <= end:
        closed = (day.month == 12 and day.day >= 23) or (day.month == 1 and day.day <= 3)
        if day.weekday() != 5 and not closed:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def write_online_retail_ii(path: str | Path, *, rows: int = 30_000, seed: int = 0) -> ExportFacts:
    """Write `rows` invoice lines in the format of the UCI Online Retail II CSV (2009-12-01 to
    2011-12-09, a UK gift wholesaler), as the published CSV copy of the workbook writes them.

    The file: UTF-8 without BOM (descriptions hold "\u00a3"), LF line ends, header
    ONLINE_RETAIL_II_HEADER, lines in invoice order; pandas `to_csv` formats: Price as the
    shortest float (`2.1`, `18.0`), Customer ID as a float (`13085.0`) or blank when missing,
    InvoiceDate `2009-12-01 07:45:00`, minimal quoting (`"RECORD FRAME 7"" SINGLE SIZE"`);
    descriptions upper case, some with trailing blanks or a second spelling for the same
    StockCode. No invoice falls on a Saturday or between 23 Dec and 3 Jan.

    Rows, in the order the rules apply:
    - duplicate_row: an exact copy of an earlier row (here: a sale line repeated just below
      itself, as in the real data).
    - not_a_product: StockCode in ONLINE_RETAIL_NON_PRODUCT_CODES or starting "gift_0001_"
      (postage, carriage, manual lines, bank charges, fees, samples, discounts, tests, gift
      vouchers, the "A" invoice adjusting bad debt), on sale or on cancellation invoices alike.
    - return: a product line on an invoice starting "C" (a cancellation), quantity negative,
      price positive; kept in silver as a return, revenue quantity x price (negative).
    - invalid_quantity: quantity <= 0 on an invoice that is not a cancellation: stock
      adjustments (blank Customer ID, Price 0, descriptions like "damaged", "?" or blank). They
      also have Price 0: a layout that takes every negative quantity as a return fails them on
      price instead (traits.stock_adjustment_rows).
    - invalid_price: a sale line with Price 0.
    - clean: every other row; revenue Quantity x Price; products by StockCode, orders by Invoice.
    traits: blank_customer_rows, cancellation_invoices, stock_adjustment_rows,
    stock_codes_with_several_descriptions (among clean rows), saturday_rows.
    """
    rng = _rng(seed, 2)
    if rows < 500:
        raise ValueError("rows must be at least 500")
    catalogue = max(60, rows // 12)
    codes: list[str] = []
    while len(codes) < catalogue:
        code = str(int(rng.integers(10002, 90215)))
        if rng.random() < 0.3:
            code += "ABCDEFGHJKLMNPRSTW"[int(rng.integers(18))]
        if code not in codes:
            codes.append(code)
    descriptions: list[list[str]] = []
    used_names: set[str] = set()
    for _ in codes:
        name = ""
        while not name or name in used_names:
            name = (
                _PREFIXES[int(rng.integers(len(_PREFIXES)))]
                + (_COLOURS[int(rng.integers(len(_COLOURS)))] + " " if rng.random() < 0.6 else "")
                + (_MOTIFS[int(rng.integers(len(_MOTIFS)))] + " " if rng.random() < 0.7 else "")
                + _ITEMS[int(rng.integers(len(_ITEMS)))]
            )
        used_names.add(name)
        spellings = [name + (" " if rng.random() < 0.12 else "")]
        if rng.random() < 0.03:
            spellings.append(name.replace(" ", "  ", 1))
        descriptions.append(spellings)
    base_price = [max(29, round(float(np.exp(x)) / 5) * 5) for x in rng.normal(5.3, 0.8, catalogue)]
    weights = rng.permutation(1.0 / (np.arange(catalogue) + 8.0) ** 1.15)
    weights /= weights.sum()
    customers = list(range(12346, 12346 + max(40, rows // 20)))
    countries = [n for n, _ in _COUNTRIES], [w for _, w in _COUNTRIES]
    country_of = {c: _pick(rng, *countries) for c in customers}
    sale_charges = [c for c in _RETAIL_CHARGES if not c[3]]
    cancel_charges = [c for c in _RETAIL_CHARGES if c[3]]

    n_dup = max(3, rows // 200)
    n_cancel_lines = max(8, rows // 50)
    n_adjust = max(2, rows // 350)
    n_zero = max(2, rows // 900)
    n_charges = max(len(sale_charges), rows // 220)
    n_sale_lines = rows - n_dup - n_cancel_lines - n_adjust - n_charges - 1  # 1: bad-debt line
    sizes = _split(rng, n_sale_lines, lambda: min(int(rng.geometric(1 / 16)), catalogue // 2, 60))
    cancel_sizes = _split(rng, n_cancel_lines, lambda: int(rng.integers(1, 4)))
    kinds = ["sale"] * len(sizes) + ["cancel"] * len(cancel_sizes) + ["adjust"] * n_adjust
    kinds = [kinds[int(i)] for i in rng.permutation(len(kinds))] + ["bad_debt"]
    kinds.insert(0, kinds.pop(kinds.index("sale")))  # a sale comes before any cancellation
    kinds.insert(int(rng.integers(len(kinds) // 2, len(kinds))), kinds.pop())
    days = _retail_calendar()
    trend = np.linspace(1.0, 2.2, len(days))
    picked_days = np.sort(rng.choice(len(days), size=len(kinds), p=trend / trend.sum()))
    stamps = sorted(
        f"{days[int(d)]:%Y-%m-%d} {m // 60:02d}:{m % 60:02d}:00"
        for d, m in zip(
            picked_days, rng.integers(7 * 60 + 30, 19 * 60 + 30, len(kinds)), strict=True
        )
    )
    charge_sales = {int(i) for i in rng.choice(len(sizes), size=n_charges, replace=False)}
    zero_sales = {int(i) for i in rng.choice(len(sizes), size=n_zero, replace=False)}
    n_cancel_charges = min(len(cancel_sizes), max(len(cancel_charges), len(cancel_sizes) // 6))
    charge_cancels = {
        int(i) for i in rng.choice(len(cancel_sizes), size=n_cancel_charges, replace=False)
    }

    body: list[list[str]] = []
    labels: list[str] = []
    history: list[tuple[int, list[tuple[str, str, int, int]]]] = []
    sale_no = cancel_no = sale_charge_no = cancel_charge_no = 0
    numbers = [
        489434,
        *sorted(
            int(n) for n in rng.choice(np.arange(489435, 581588), len(kinds) - 1, replace=False)
        ),
    ]
    for slot, kind in enumerate(kinds):
        stamp, invoice = stamps[slot], str(numbers[slot])
        if kind == "sale":
            size = sizes[sale_no]
            customer = customers[int(rng.integers(len(customers)))] if rng.random() < 0.78 else 0
            country = country_of[customer] if customer else "United Kingdom"
            who = f"{customer}.0" if customer else ""
            lines: list[tuple[str, str, int, int]] = []
            for k, p in enumerate(rng.choice(catalogue, size=size, replace=False, p=weights)):
                code, options = codes[int(p)], descriptions[int(p)]
                spelling = options[int(rng.integers(len(options)))]
                qty = int(rng.choice(_RETAIL_QUANTITIES, p=_RETAIL_QUANTITY_WEIGHTS))
                price = base_price[int(p)]
                if qty >= 12 and price > 100:
                    price = price * 87 // 100 // 5 * 5
                if sale_no in zero_sales and k == size - 1:
                    body.append([invoice, code, spelling, str(qty), stamp, "0.0", "", country])
                    labels.append("invalid_price")
                    continue
                body.append(
                    [invoice, code, spelling, str(qty), stamp, _pandas_float(price), who, country]
                )
                labels.append("clean")
                lines.append((code, spelling, qty, price))
            if sale_no in charge_sales:
                code, text, amount, _ = sale_charges[sale_charge_no % len(sale_charges)]
                sale_charge_no += 1
                amount = amount or int(rng.integers(50, 20000))
                body.append([invoice, code, text, "1", stamp, _pandas_float(amount), who, country])
                labels.append("not_a_product")
            if customer:
                history.append((customer, lines))
            sale_no += 1
        elif kind == "cancel":
            size = cancel_sizes[cancel_no]
            customer, lines = history[int(rng.integers(len(history)))] if history else (0, [])
            who = f"{customer}.0" if customer else ""
            country = country_of.get(customer, "United Kingdom")
            charges = 1 if cancel_no in charge_cancels else 0
            returned = min(size - charges, len(lines))
            for k in rng.choice(len(lines), size=returned, replace=False) if returned else []:
                code, spelling, qty, price = lines[int(k)]
                back = -int(rng.integers(1, qty + 1))
                body.append(
                    [
                        "C" + invoice,
                        code,
                        spelling,
                        str(back),
                        stamp,
                        _pandas_float(price),
                        who,
                        country,
                    ]
                )
                labels.append("return")
            for _ in range(size - returned):
                code, text, amount, _ = cancel_charges[cancel_charge_no % len(cancel_charges)]
                cancel_charge_no += 1
                amount = amount or int(rng.integers(100, 5000))
                body.append(
                    ["C" + invoice, code, text, "-1", stamp, _pandas_float(amount), who, country]
                )
                labels.append("not_a_product")
            cancel_no += 1
        elif kind == "adjust":
            p = int(rng.choice(catalogue, p=weights))
            note = _ADJUSTMENT_NOTES[int(rng.integers(len(_ADJUSTMENT_NOTES)))]
            back = -int(rng.choice([1, 2, 3, 5, 10, 12, 24, 50, 100]))
            body.append([invoice, codes[p], note, str(back), stamp, "0.0", "", "United Kingdom"])
            labels.append("invalid_quantity")
        else:
            body.append(
                [
                    "A" + invoice,
                    "B",
                    "Adjust bad debt",
                    "1",
                    stamp,
                    "11062.06",
                    "",
                    "United Kingdom",
                ]
            )
            labels.append("not_a_product")
    clean_positions = [i for i, label in enumerate(labels) if label == "clean"]
    for i in sorted(
        (int(x) for x in rng.choice(clean_positions, size=n_dup, replace=False)), reverse=True
    ):
        body.insert(i + 1, list(body[i]))
        labels.insert(i + 1, "duplicate_row")
    if len(body) != rows:
        raise AssertionError(f"built {len(body)} rows, meant {rows}")

    verdicts = _classify_online_retail(body)
    _check_labels(labels, verdicts)
    column = {h: i for i, h in enumerate(ONLINE_RETAIL_II_HEADER)}
    spellings_by_code: dict[str, set[str]] = {}
    for row, v in zip(body, verdicts, strict=True):
        if v.reason == "clean":
            spellings_by_code.setdefault(row[column["StockCode"]], set()).add(
                row[column["Description"]]
            )
    traits = {
        "blank_customer_rows": sum(1 for row in body if not row[column["Customer ID"]]),
        "cancellation_invoices": len({row[0] for row in body if row[0].startswith("C")}),
        "stock_adjustment_rows": sum(
            1
            for row, v in zip(body, verdicts, strict=True)
            if v.reason == "invalid_quantity" and _cents(row[column["Price"]]) == 0
        ),
        "stock_codes_with_several_descriptions": sum(
            1 for s in spellings_by_code.values() if len(s) > 1
        ),
        "saturday_rows": sum(
            1
            for row in body
            if dt.date.fromisoformat(row[column["InvoiceDate"]][:10]).weekday() == 5
        ),
    }
    _write(path, _render(ONLINE_RETAIL_II_HEADER, body, "\n"), "utf-8")
    return _facts("online_retail_ii", "utf-8", "\n", ONLINE_RETAIL_II_HEADER, verdicts, traits)


def _is_retail_non_product(code: str) -> bool:
    return code in ONLINE_RETAIL_NON_PRODUCT_CODES or code.startswith(ONLINE_RETAIL_GIFT_PREFIX)


def _classify_online_retail(rows: Sequence[Sequence[str]]) -> list[_Verdict]:
    seen: set[tuple[str, ...]] = set()
    verdicts: list[_Verdict] = []
    for row in rows:
        invoice, code, _text, qty_text, stamp, price_text = row[:6]
        qty, price = int(qty_text), _cents(price_text)
        key = tuple(row)
        if key in seen:
            reason = "duplicate_row"
        elif _is_retail_non_product(code):
            reason = "not_a_product"
        elif invoice.startswith("C"):
            reason = "invalid_quantity" if qty >= 0 else "invalid_price" if price <= 0 else "return"
        elif qty <= 0:
            reason = "invalid_quantity"
        elif price <= 0:
            reason = "invalid_price"
        else:
            reason = "clean"
        seen.add(key)
        verdicts.append(
            _Verdict(
                reason=reason,
                order=invoice,
                product=code,
                day=dt.date.fromisoformat(stamp[:10]),
                units=qty,
                cents=qty * price,
            )
        )
    return verdicts


# -------------------------------------------------------------- B2B sales_data_sample


_PRODUCT_LINES = (
    ("Classic Cars", 34),
    ("Vintage Cars", 20),
    ("Motorcycles", 12),
    ("Trucks and Buses", 10),
    ("Planes", 11),
    ("Ships", 8),
    ("Trains", 5),
)
_SCALES = ("10", "12", "18", "24", "32", "50", "700", "72")
# name | phone | address 1 | address 2 | city | state | postal code | country | territory |
# contact last name | contact first name (two lines hold the file's single bytes 0x84 and 0xA1)
_B2B_CUSTOMERS = _table(
    """
Land of Dreams Inc.|2125557413|897 Long Airport Avenue||NYC|NY|10022|USA|NA|Ito|Kenji
Reims Curios|26.47.1555|59 rue de l'Abbaye||Reims||51100|France|EMEA|Henri|Paule
Corporate Model Gifts Co.|6505551386|7734 Strong St.||San Francisco|CA||USA|NA|Brown|Julia
Daedalus Replicas|20.16.1555|184, chausse de Tournai||Lille||59000|France|EMEA|Rance|Martina
Herkku Collectables|+47 2267 3215|Drammen 121, PR 744 Sentrum||Bergen||N 5804|Norway|EMEA|Oez|Veli
Aussie Diecast, Co.|03 9520 4555|636 Kilda Rd|Level 3|Perth|WA|3004|Australia|APAC|Fox|Pete
Vasa Replicas, Co|0921-12 3555|Vasav\u201egen  17||Lule||S-958 22|Sweden|EMEA|Berg|Kristina
Toledo Replicas, Ltd|(91) 555 22 82|C/ Araquil, 67||Madrid||28023|Spain|EMEA|Sol|Agust\u00a1n
Scandinavian Scale Gifts|0695-34 6555|?stergatan 24||Boras||S-844 67|Sweden|EMEA|Larsen|Maja
Tokyo Scale, Ltd|+81 3 3584 0555|2-2-8 Roppongi||Minato-ku|Tokyo|106-0032|Japan|Japan|Shima|Aiko
Canadian Gift Network|(604) 555-3392|1900 Oak St.||Vancouver|BC|V3F 2K1|Canada|NA|Tanaka|Yuki
Mini Wheels Distributors|4155551450|5677 Strong St.||San Rafael|CA|97562|USA|NA|Nelson|Val
Euro Hobby Channel|(91) 555 94 44|C/ Moralzarzal, 86||Madrid||28034|Spain|EMEA|Freire|Diego
Lion City Souvenirs, Ltd.|+65 221 7555|Bronz Sok. 3/6||Singapore||79903|Singapore|Japan|Nati|Erica
UK Scale Co, Ltd.|(171) 555-2282|Berkeley Gardens 12  Brewery||Liverpool||WX1 6LT|UK|EMEA|Devon|Liz
Salzburg Modelle|6562-9555|Geislweg 14||Salzburg||5020|Austria|EMEA|Pipp|Georg
Technics Hobby Inc.|6505556809|9408 Furth Circle||Burlingame|CA|94217|USA|NA|Hirano|Jun
Gifts4AllScales.com|6175559555|8616 Spinnaker Dr.||Boston|MA|51003|USA|NA|Yoshida|Juri
Danish Model Imports|31 12 3555|Vinb'ltet 34||Kobenhavn||1734|Denmark|EMEA|Petersen|Jytte
Osaka Hobby Co.|+81 06 6342 5555|Dojima Avanza 4F, 1-6-20||Osaka|Osaka|530-0003|Japan|Japan|Mori|Ken
Philly Classic Gifts, Inc|2155554695|782 First Street||Philadelphia|PA|71270|USA|NA|Cervantes|Paca
Muenchen Modellbau|089-0877555|Berliner Str. 9|Suite 2|Muenchen||80805|Germany|EMEA|Franken|Peter
"""
)


_B2B_NAME_PARTS = (
    ("Classic", "Mini", "Vintage", "Scale", "Diecast", "Hobby", "Toy", "Auto", "Model", "Royal"),
    ("Gift Ideas", "Collectables", "Imports", "Distributors", "Creations", "Replicas", "Wheels"),
    ("Inc.", "Co.", "Ltd.", ", Co.", ", Ltd", "Corp.", "& Co."),
)
# city | state | postal code | country | territory | phone prefix
_B2B_PLACES = _table(
    """
NYC|NY|10022|USA|NA|212555
San Francisco|CA||USA|NA|650555
Boston|MA|51003|USA|NA|617555
Philadelphia|PA|71270|USA|NA|215555
Los Angeles|CA||USA|NA|213555
New Haven|CT|97823|USA|NA|203555
Nashua|NH|62005|USA|NA|603555
Paris||75016|France|EMEA|(1) 47.55.
Lyon||69004|France|EMEA|78.32.
Madrid||28034|Spain|EMEA|(91) 555
Frankfurt||60528|Germany|EMEA|+49 69 66 90
Torino||10100|Italy|EMEA|011-498
Helsinki||21240|Finland|EMEA|90-224
Bruxelles||B-1180|Belgium|EMEA|(02) 5554
London||WX3 6FW|UK|EMEA|(171) 555-
Geneve||1203|Switzerland|EMEA|0897-034
North Sydney|NSW|2060|Australia|APAC|02 9936
Auckland||1010|New Zealand|APAC|+64 9 555
Montreal|Quebec|H1J 1C3|Canada|NA|(514) 555-
Osaka|Osaka|530-0003|Japan|Japan|+81 06 6342
"""
)


_B2B_CONTACTS = (
    ("Young", "Brown", "Nelson", "Frick", "King", "Murphy", "Hernandez", "Yu", "Tseng", "Moreno"),
    ("Julie", "Peter", "Leslie", "Steve", "Maria", "Michael", "Valarie", "Dan", "Kyung", "Rosa"),
)


def _b2b_customers(rng: np.random.Generator, count: int) -> list[tuple[str, ...]]:
    """More wholesale customers in the sample's style (names with commas are quoted)."""
    made: list[tuple[str, ...]] = []
    names: set[str] = {c[0] for c in _B2B_CUSTOMERS}
    while len(made) < count:
        first, middle, last = (parts[int(rng.integers(len(parts)))] for parts in _B2B_NAME_PARTS)
        name = f"{first} {middle}{'' if last.startswith(',') else ' '}{last}"
        if name in names:
            continue
        names.add(name)
        city, state, postal, country, territory, phone = _B2B_PLACES[
            int(rng.integers(len(_B2B_PLACES)))
        ]
        street = f"{int(rng.integers(1, 9999))} {_STREETS[int(rng.integers(len(_STREETS) - 2))]}"
        suite = f"Suite {int(rng.integers(100, 999))}" if rng.random() < 0.1 else ""
        contact = _B2B_CONTACTS[0][int(rng.integers(len(_B2B_CONTACTS[0])))]
        given = _B2B_CONTACTS[1][int(rng.integers(len(_B2B_CONTACTS[1])))]
        made.append(
            (
                name,
                f"{phone}{int(rng.integers(1000, 9999))}",
                street,
                suite,
                city,
                state,
                postal,
                country,
                territory,
                contact,
                given,
            )
        )
    return made


def _b2b_date(day: dt.date) -> str:
    return f"{day.month}/{day.day}/{day.year} 0:00"


def write_b2b_sales_sample(
    path: str | Path, *, rows: int = 2_823, products: int = 109, seed: int = 0
) -> ExportFacts:
    """Write `rows` order lines over `products` product codes in the format of the Kaggle B2B
    "sales_data_sample.csv" (a scale-model wholesaler, orders from 2003-01-06 to 2005-05-31).

    The file: single-byte Windows-1252 (cp1252) text, not UTF-8 (addresses and names hold the
    bytes 0x84 and 0xA1, shown as "\u201e" and "\u00a1" as in the real file; UTF-8 decoding
    fails), LF line ends, header B2B_HEADER, lines sorted by PRODUCTCODE then date and order
    number. ORDERDATE is `2/24/2003 0:00`; numbers are written without trailing zeros (`2871`,
    `95.7`, `100`); QTR_ID, MONTH_ID and YEAR_ID repeat the date; TERRITORY is the text `NA` for
    North America; STATE, POSTALCODE and ADDRESSLINE2 are often blank; names and addresses with
    commas are quoted. PRICEEACH is capped at 100 while SALES is the true line total
    (quantity x the uncapped unit price), so SALES != QUANTITYORDERED x PRICEEACH on every line
    whose true price passed 100 (traits.price_capped_rows): revenue must come from SALES.
    DEALSIZE is Small below 3,000, Medium below 7,000, else Large. STATUS is one of
    B2B_STATUSES, the same on every line of an order; the last orders are In Process, On Hold
    or Disputed.

    Rows, in the order the rules apply:
    - duplicate_row: an exact copy of an earlier row (a line exported twice, just below itself).
    - excluded_status: STATUS Cancelled (B2B_EXCLUDED_STATUSES).
    - clean: every other row (Shipped, Resolved, On Hold, In Process, Disputed); revenue SALES;
      products by PRODUCTCODE, orders by ORDERNUMBER; every product code has a clean line.
    revenue_cents_by_status lets another status policy be checked. traits: price_capped_rows,
    territory_na_rows, blank_postalcode_rows, rows_with_non_ascii_bytes, customers.
    """
    rng = _rng(seed, 3)
    if products < 20 or rows < products * 3:
        raise ValueError("need at least 20 products and three rows per product")
    codes: list[str] = []
    while len(codes) < products:
        code = f"S{_SCALES[int(rng.integers(len(_SCALES)))]}_{int(rng.integers(1000, 5000))}"
        if code not in codes:
            codes.append(code)
    line_of = {
        c: _pick(rng, [n for n, _ in _PRODUCT_LINES], [w for _, w in _PRODUCT_LINES]) for c in codes
    }
    msrp = {c: int(rng.integers(33, 215)) for c in codes}
    n_dup = max(2, rows // 700)
    base = rows - n_dup
    n_orders = max(10, round(base / 9.2))
    max_lines = min(18, products)
    sizes = [
        int(x) for x in np.clip(np.round(rng.normal(base / n_orders, 4.0, n_orders)), 1, max_lines)
    ]
    while sum(sizes) != base:
        i = int(rng.integers(n_orders))
        if sum(sizes) > base and sizes[i] > 1:
            sizes[i] -= 1
        elif sum(sizes) < base and sizes[i] < max_lines:
            sizes[i] += 1
    first, last = dt.date(2003, 1, 6), dt.date(2005, 5, 31)
    span = (last - first).days
    season = np.array(
        [1.0 + 2.2 * ((first + dt.timedelta(days=d)).month in (10, 11)) for d in range(span + 1)]
    )
    offsets = np.sort(rng.choice(span + 1, size=n_orders - 2, p=season / season.sum()))
    dates = [first] + [first + dt.timedelta(days=int(d)) for d in offsets] + [last]
    statuses = ["Shipped"] * n_orders
    tail = max(4, n_orders // 40)
    for i in range(n_orders - tail, n_orders):
        statuses[i] = _pick(rng, ("In Process", "On Hold", "Disputed"), (5, 3, 2))
    early = [
        int(i)
        for i in rng.choice(
            n_orders - tail, size=min(n_orders - tail, max(6, n_orders // 28)), replace=False
        )
    ]
    for k, i in enumerate(early):
        statuses[i] = ("Cancelled", "Resolved", "Cancelled", "Resolved", "On Hold", "Disputed")[
            k % 6
        ]
    pool = [*_B2B_CUSTOMERS, *_b2b_customers(rng, 70)]
    customers = [pool[int(rng.integers(len(pool)))] for _ in range(n_orders)]
    weights = rng.uniform(0.5, 1.5, products)
    order_products = [
        list(rng.choice(products, size=s, replace=False, p=weights / weights.sum())) for s in sizes
    ]
    kept = [i for i in range(n_orders) if statuses[i] != "Cancelled"]
    sold = {int(p) for i in kept for p in order_products[i]}
    for p in range(products):  # every product gets at least one kept line
        if p not in sold:
            for i in kept:
                line = order_products[i]
                counts = Counter(int(q) for j in kept for q in order_products[j])
                swap = next((k for k, q in enumerate(line) if counts[int(q)] > 1), None)
                if swap is not None and p not in (int(q) for q in line):
                    line[swap] = p
                    sold.add(p)
                    break
    records: list[tuple[tuple[str, str, int], list[str]]] = []
    for i in range(n_orders):
        day = dates[i]
        customer = customers[i]
        for number, p in enumerate(order_products[i], start=1):
            code = codes[int(p)]
            qty = (
                int(rng.integers(20, 51))
                if rng.random() < 0.93
                else int(rng.choice([6, 10, 12, 15, 55, 60, 66, 70, 77, 97]))
            )
            unit = max(2500, round(msrp[code] * 100 * float(rng.uniform(0.75, 1.22))))
            sales = qty * unit
            deal = "Small" if sales < 300000 else ("Medium" if sales < 700000 else "Large")
            row = [
                str(10100 + i),
                str(qty),
                _short(min(unit, 10000)),
                str(number),
                _short(sales),
                _b2b_date(day),
                statuses[i],
                str((day.month - 1) // 3 + 1),
                str(day.month),
                str(day.year),
                line_of[code],
                str(msrp[code]),
                code,
                *customer,
                deal,
            ]
            records.append(((code, day.isoformat(), 10100 + i), row))
    records.sort(key=lambda r: r[0])
    body = [row for _, row in records]
    labels = ["excluded_status" if row[6] in B2B_EXCLUDED_STATUSES else "clean" for row in body]
    clean_positions = [i for i, label in enumerate(labels) if label == "clean"]
    for i in sorted(
        (int(x) for x in rng.choice(clean_positions, size=n_dup, replace=False)), reverse=True
    ):
        body.insert(i + 1, list(body[i]))
        labels.insert(i + 1, "duplicate_row")

    verdicts = _classify_b2b(body)
    _check_labels(labels, verdicts)
    column = {h: i for i, h in enumerate(B2B_HEADER)}
    traits = {
        "price_capped_rows": sum(
            1
            for row, v in zip(body, verdicts, strict=True)
            if v.reason == "clean"
            and _cents(row[column["SALES"]])
            != int(row[column["QUANTITYORDERED"]]) * _cents(row[column["PRICEEACH"]])
        ),
        "territory_na_rows": sum(1 for row in body if row[column["TERRITORY"]] == "NA"),
        "blank_postalcode_rows": sum(1 for row in body if not row[column["POSTALCODE"]]),
        "rows_with_non_ascii_bytes": sum(1 for row in body if any(not v.isascii() for v in row)),
        "customers": len({row[column["CUSTOMERNAME"]] for row in body}),
    }
    _write(path, _render(B2B_HEADER, body, "\n"), "cp1252")
    return _facts("b2b_sales_sample", "cp1252", "\n", B2B_HEADER, verdicts, traits)


def _classify_b2b(rows: Sequence[Sequence[str]]) -> list[_Verdict]:
    column = {h: i for i, h in enumerate(B2B_HEADER)}
    seen: set[tuple[str, ...]] = set()
    verdicts: list[_Verdict] = []
    for row in rows:
        qty = int(row[column["QUANTITYORDERED"]])
        sales = _cents(row[column["SALES"]])
        month, day, year = row[column["ORDERDATE"]].split(" ")[0].split("/")
        status = row[column["STATUS"]]
        key = tuple(row)
        if key in seen:
            reason = "duplicate_row"
        elif status in B2B_EXCLUDED_STATUSES:
            reason = "excluded_status"
        elif qty <= 0:
            reason = "invalid_quantity"
        elif sales <= 0:
            reason = "invalid_price"
        else:
            reason = "clean"
        seen.add(key)
        verdicts.append(
            _Verdict(
                reason=reason,
                order=row[column["ORDERNUMBER"]],
                product=row[column["PRODUCTCODE"]],
                day=dt.date(int(year), int(month), int(day)),
                units=qty,
                cents=sales,
                status=status,
            )
        )
    return verdicts


# ------------------------------------------------------------ marketplace order items


_CATEGORIES = (
    ("cama_mesa_banho", 10),
    ("beleza_saude", 9),
    ("esporte_lazer", 8),
    ("moveis_decoracao", 8),
    ("informatica_acessorios", 7),
    ("utilidades_domesticas", 6),
    ("relogios_presentes", 5),
    ("telefonia", 4),
    ("ferramentas_jardim", 4),
    ("automotivo", 4),
    ("brinquedos", 4),
    ("cool_stuff", 3),
    ("perfumaria", 3),
    ("bebes", 3),
    ("eletronicos", 2),
    ("papelaria", 2),
    ("fashion_bolsas_e_acessorios", 2),
    ("pet_shop", 2),
    ("moveis_escritorio", 1.5),
    ("consoles_games", 1),
    ("malas_acessorios", 1),
    ("construcao_ferramentas_construcao", 1),
    ("eletrodomesticos", 1),
    ("instrumentos_musicais", 0.7),
    ("eletroportateis", 0.7),
    ("casa_construcao", 0.6),
    ("livros_interesse_geral", 0.5),
    ("alimentos", 0.5),
    ("moveis_sala", 0.4),
    ("climatizacao", 0.3),
    ("audio", 0.3),
    ("bebidas", 0.3),
    ("agro_industria_e_comercio", 0.2),
    ("fashion_calcados", 0.2),
    ("artes", 0.2),
    ("sinalizacao_e_seguranca", 0.2),
    ("portateis_casa_forno_e_cafe", 0.1),
)
_ORDER_STATUSES = (
    "delivered",
    "shipped",
    "canceled",
    "unavailable",
    "invoiced",
    "processing",
    "created",
    "approved",
)
_ORDER_STATUS_WEIGHTS = (965, 11, 6, 6, 3, 3, 0.5, 0.5)


def write_marketplace_items(
    path: str | Path, *, products: int = 3_700, days: int = 730, seed: int = 0
) -> ExportFacts:
    """Write marketplace order items over `products` products and `days` days from 2016-10-03,
    as a user joins the Olist files: order items with their order (customer_id, order_status,
    order_purchase_timestamp), product (product_category_name) and payments.

    The file: UTF-8, LF line ends, header MARKETPLACE_HEADER, rows sorted by order_id then
    order_item_id then payment_sequential (the items file's order, kept by the merge), pandas
    `to_csv` formats: price, freight_value and payment_value as the shortest float (`58.9`,
    `199.0`), timestamps `2017-10-02 10:56:33`, ids 32 lowercase hex digits, a blank
    product_category_name for some products (Portuguese names otherwise). No quantity column:
    each row is one unit, order_item_id 1..n within an order, and two units of one product are
    two rows differing only in order_item_id (traits.same_product_unit_rows). Joining the
    payments repeats an item row once per payment of its order (payment_sequential 1..k).
    Sales are very sparse: most products sell once or twice in the whole period, about 2% sell
    more than once a month.

    Rows, in the order the rules apply:
    - duplicate_row: an exact copy of an earlier row (a few rows appended again at the end).
    - payment_repeat: a row whose (order_id, order_item_id) an earlier row already had, with
      other payment columns; the row with the lowest payment_sequential is the item's line.
      Only orders of kept statuses have several payments.
    - excluded_status: order_status canceled or unavailable (MARKETPLACE_EXCLUDED_STATUSES).
    - clean: every other row (delivered, shipped, invoiced, processing, created, approved);
      revenue is price (freight excluded), one unit per row; products by product_id, orders
      by order_id.
    traits: items, orders_with_several_payments, same_product_unit_rows, blank_category_rows
    (clean), freight_cents (clean), sellers.
    """
    rng = _rng(seed, 4)
    if products < 50 or days < 60:
        raise ValueError("need at least 50 products and 60 days")
    product_ids = _hex_ids(rng, products)
    n_sellers = max(10, products // 4)
    seller_ids = _hex_ids(rng, n_sellers)
    names = [n for n, _ in _CATEGORIES]
    category = {
        p: ("" if rng.random() < 0.018 else _pick(rng, names, [w for _, w in _CATEGORIES]))
        for p in product_ids
    }
    seller = {p: seller_ids[int(rng.integers(n_sellers))] for p in product_ids}
    endings = (90, 99, 0, 50, 90, 99, 49)
    price = {
        p: max(
            85, int(np.exp(rng.normal(4.3, 0.9))) * 100 + endings[int(rng.integers(len(endings)))]
        )
        for p in product_ids
    }
    months = days / DAYS_PER_MONTH
    hot = max(1, round(products * 0.02))
    units: list[str] = []
    for rank, p in enumerate(rng.permutation(products)):
        pid = product_ids[int(p)]
        if rank < hot:
            count = int(rng.integers(int(months * 1.3) + 1, int(months * 8) + 2))
        else:
            count = min(int(rng.geometric(0.6)), max(1, int(months * 0.4)))
        units.extend([pid] * count)
    order_of_units = rng.permutation(len(units))
    units = [units[int(i)] for i in order_of_units]
    orders: list[list[str]] = []
    cursor = 0
    while cursor < len(units):
        size = int(rng.choice([1, 2, 3, 4], p=[0.9, 0.07, 0.025, 0.005]))
        chunk = units[cursor : cursor + size]
        cursor += size
        if rng.random() < 0.035:
            chunk.append(chunk[0])  # a second unit of the same product
        orders.append(chunk)
    n_orders = len(orders)
    order_ids = _hex_ids(rng, n_orders)
    customer_ids = _hex_ids(rng, n_orders)
    statuses = [_pick(rng, _ORDER_STATUSES, _ORDER_STATUS_WEIGHTS) for _ in range(n_orders)]
    for position, status in zip(
        rng.choice(n_orders, 6, replace=False), _ORDER_STATUSES[:6], strict=True
    ):
        if status not in statuses:
            statuses[int(position)] = status
    start = dt.datetime(2016, 10, 3)
    trend = np.linspace(1.0, 3.0, days)
    purchase_days = rng.choice(days, size=n_orders, p=trend / trend.sum())
    body: list[list[str]] = []
    labels: list[str] = []
    keyed: list[tuple[str, int, int, list[str], str]] = []
    for i, chunk in enumerate(orders):
        moment = start + dt.timedelta(
            days=int(purchase_days[i]), seconds=int(rng.integers(0, 86400))
        )
        limit = moment + dt.timedelta(days=6, seconds=int(rng.integers(0, 86400)))
        status = statuses[i]
        freight = [int(700 + rng.gamma(2.0, 550)) for _ in chunk]
        total = sum(price[p] for p in chunk) + sum(freight)
        if status in MARKETPLACE_EXCLUDED_STATUSES or rng.random() > 0.03:
            kind = _pick(
                rng, ("credit_card", "boleto", "voucher", "debit_card"), (75, 19, 4.5, 1.5)
            )
            installments = int(rng.integers(1, 11)) if kind == "credit_card" else 1
            payments = [(kind, installments, total)]
        else:
            vouchers = [
                int(rng.integers(100, max(101, total // 3))) for _ in range(int(rng.integers(1, 3)))
            ]
            payments = [("credit_card", int(rng.integers(1, 9)), total - sum(vouchers))]
            payments += [("voucher", 1, v) for v in vouchers]
        label = "excluded_status" if status in MARKETPLACE_EXCLUDED_STATUSES else "clean"
        for item, pid in enumerate(chunk, start=1):
            for sequential, (kind, installments, value) in enumerate(payments, start=1):
                row = [
                    order_ids[i],
                    str(item),
                    pid,
                    seller[pid],
                    f"{limit:%Y-%m-%d %H:%M:%S}",
                    _pandas_float(price[pid]),
                    _pandas_float(freight[item - 1]),
                    customer_ids[i],
                    status,
                    f"{moment:%Y-%m-%d %H:%M:%S}",
                    category[pid],
                    str(sequential),
                    kind,
                    str(installments),
                    _pandas_float(value),
                ]
                keyed.append(
                    (
                        order_ids[i],
                        item,
                        sequential,
                        row,
                        label if sequential == 1 else "payment_repeat",
                    )
                )
    keyed.sort(key=lambda r: (r[0], r[1], r[2]))
    body = [r[3] for r in keyed]
    labels = [r[4] for r in keyed]
    single = [
        i
        for i, row in enumerate(body)
        if labels[i] == "clean" and (i + 1 == len(body) or labels[i + 1] != "payment_repeat")
    ]
    for i in sorted(
        int(x) for x in rng.choice(single, size=max(3, len(body) // 2500), replace=False)
    ):
        body.append(list(body[i]))
        labels.append("duplicate_row")

    verdicts = _classify_marketplace(body)
    _check_labels(labels, verdicts)
    column = {h: i for i, h in enumerate(MARKETPLACE_HEADER)}
    clean = [row for row, v in zip(body, verdicts, strict=True) if v.reason == "clean"]
    lines = [
        row
        for row, v in zip(body, verdicts, strict=True)
        if v.reason in ("clean", "excluded_status")
    ]
    per_order_product = Counter(
        (row[column["order_id"]], row[column["product_id"]]) for row in lines
    )
    traits = {
        "items": len({(row[0], row[1]) for row in body}),
        "orders_with_several_payments": len(
            {row[0] for row in body if row[column["payment_sequential"]] != "1"}
        ),
        "same_product_unit_rows": sum(n for n in per_order_product.values() if n > 1),
        "blank_category_rows": sum(1 for row in clean if not row[column["product_category_name"]]),
        "freight_cents": sum(_cents(row[column["freight_value"]]) for row in clean),
        "sellers": len({row[column["seller_id"]] for row in clean}),
    }
    _write(path, _render(MARKETPLACE_HEADER, body, "\n"), "utf-8")
    return _facts("marketplace_items", "utf-8", "\n", MARKETPLACE_HEADER, verdicts, traits)


def _classify_marketplace(rows: Sequence[Sequence[str]]) -> list[_Verdict]:
    column = {h: i for i, h in enumerate(MARKETPLACE_HEADER)}
    seen_rows: set[tuple[str, ...]] = set()
    seen_items: set[tuple[str, str]] = set()
    verdicts: list[_Verdict] = []
    for row in rows:
        key = tuple(row)
        item = (row[column["order_id"]], row[column["order_item_id"]])
        status = row[column["order_status"]]
        cents = _cents(row[column["price"]])
        if key in seen_rows:
            reason = "duplicate_row"
        elif item in seen_items:
            reason = "payment_repeat"
        elif status in MARKETPLACE_EXCLUDED_STATUSES:
            reason = "excluded_status"
        elif cents <= 0:
            reason = "invalid_price"
        else:
            reason = "clean"
        seen_rows.add(key)
        seen_items.add(item)
        verdicts.append(
            _Verdict(
                reason=reason,
                order=row[column["order_id"]],
                product=row[column["product_id"]],
                day=dt.date.fromisoformat(row[column["order_purchase_timestamp"]][:10]),
                units=1,
                cents=cents,
                status=status,
            )
        )
    return verdicts


# ------------------------------------------------------------------------ command line


BUILDERS: dict[str, Callable[..., ExportFacts]] = {
    "shopify": write_shopify_orders,
    "online_retail_ii": write_online_retail_ii,
    "b2b": write_b2b_sales_sample,
    "marketplace": write_marketplace_items,
}


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m ecom_assets_tests.real_formats KIND OUT_PATH [SEED]`: write one export and
    print its facts as JSON."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) not in (2, 3) or args[0] not in BUILDERS:
        print(
            "usage: python -m ecom_assets_tests.real_formats"
            f" {{{','.join(BUILDERS)}}} OUT_PATH [SEED]",
            file=sys.stderr,
        )
        return 2
    facts = BUILDERS[args[0]](args[1], seed=int(args[2]) if len(args) == 3 else 0)
    print(json.dumps(facts.as_dict(), indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
