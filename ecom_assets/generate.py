"""Deterministic synthetic order exports that look like a real online store.

`generate_orders` writes a CSV in the original export layout (`EXPORT_COLUMNS`): one row per
order line, sorted by order date then order ID, so the output depends only on `rows`, `seed` and
the shop's `ShopShape`. The default shape is 240 products in 12 categories over a fixed
three-year calendar (`CALENDAR_START`..`CALENDAR_END`) with ratings; other shapes change the
calendar, the catalogue size, the number of categories (none: the Category field is left blank)
and whether ratings and reviews are exported; a demand density (order lines per product per
month) can size the export instead of a row count.

The demand model is built once per seed as a (product x day) matrix of expected order lines:

    popularity (heavy-tailed) x lifecycle (launches, discontinuations) x annual growth
    x yearly season (per category) x weekday pattern x retail events (Black Friday to Cyber
    Monday, pre-Christmas, Valentine's, a mid-July sale) x (price / base price) ** -elasticity
    x exp(k * (rating - 4)) x noise

scaled so the expected number of lines equals `rows`. The export is then sampled in chunks of
one calendar month (split into even parts for very large exports), each from a random stream
derived from (seed, chunk index): Poisson line counts, lines grouped into orders of one to
three lines, customers from a pool with repeat buyers, and a review count that grows with every
past order line of the product. Each chunk is appended to the open file, so memory stays flat
for tens of millions of rows.

About 2% of the rows are dirty the way real exports are (see `DIRTY_FRACTIONS`); every dirty
row carries exactly one defect and, apart from category spelling variants, each defect can be
detected by a cleaner.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
import polars as pl
from tqdm import tqdm

DEFAULT_ROWS = 200_000
DEFAULT_SEED = 42
EXPORT_COLUMNS = [
    "OrderID",
    "OrderDate",
    "CustomerID",
    "Product",
    "Category",
    "Price",
    "Quantity",
    "TotalAmount",
    "Rating",
    "Reviews",
    "PaymentMethod",
    "City",
]
CALENDAR_START = dt.date(2023, 10, 1)
CALENDAR_END = dt.date(2026, 9, 30)
MIN_ROWS = 1_000
MIN_DAYS = 7
DAYS_PER_MONTH = 365.25 / 12
RATING_COLUMNS = ("Rating", "Reviews")

# Share of the clean order lines that each defect class adds (copies) or corrupts (in place).
DIRTY_FRACTIONS: dict[str, float] = {
    "exact_duplicate": 0.0015,
    "resent_order": 0.0015,
    "missing_order_id": 0.001,
    "unparseable_date": 0.001,
    "future_date": 0.001,
    "bad_quantity": 0.001,
    "bad_price": 0.001,
    "total_mismatch": 0.001,
    "rating_out_of_range": 0.001,
    "category_variant": 0.01,
}
_COPIED_DEFECTS = ("exact_duplicate", "resent_order")

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class GenerationSummary:
    """What `generate_orders` wrote."""

    path: Path
    rows_written: int
    products: int
    categories: int
    first_date: dt.date
    last_date: dt.date
    dirty_rows: dict[str, int]
    seed: int


@dataclass(frozen=True)
class _CategorySpec:
    name: str
    nouns: tuple[str, ...]
    median_price: float
    demand_share: float
    season_amplitude: float
    season_peak_day: int
    event_sensitivity: float
    valentine_sensitivity: float
    weekend_boost: float
    extra_units: float
    spellings: tuple[str, ...]


_CATEGORIES = (
    _CategorySpec(
        "Electronics",
        (
            "Wireless Headphones",
            "Bluetooth Speaker",
            "Smartwatch",
            "USB-C Charger",
            "Portable SSD",
            "Mechanical Keyboard",
            "Webcam",
            "Tablet",
            "Noise-Cancelling Earbuds",
            "Action Camera",
        ),
        120.0,
        1.4,
        0.20,
        350,
        1.4,
        0.0,
        1.15,
        0.08,
        ("Electronic",),
    ),
    _CategorySpec(
        "Home & Kitchen",
        (
            "Chef's Knife",
            "Air Fryer",
            "Coffee Grinder",
            "Cast Iron Skillet",
            "Blender",
            "Bath Towel Set",
            "Table Lamp",
            "Food Storage Set",
            "Electric Kettle",
            "Throw Blanket",
        ),
        45.0,
        1.3,
        0.15,
        330,
        1.1,
        0.0,
        1.2,
        0.2,
        ("Home and Kitchen", "Home&Kitchen"),
    ),
    _CategorySpec(
        "Clothing",
        (
            "Denim Jacket",
            "Running Shorts",
            "Wool Sweater",
            "Rain Jacket",
            "Chino Pants",
            "Cotton T-Shirt",
            "Hoodie",
            "Leather Belt",
            "Sneakers",
            "Beanie",
        ),
        35.0,
        1.2,
        0.15,
        285,
        1.0,
        0.2,
        1.25,
        0.25,
        ("Clothings",),
    ),
    _CategorySpec(
        "Beauty",
        (
            "Face Serum",
            "Moisturizer",
            "Lip Balm",
            "Shampoo",
            "Conditioner",
            "Eye Cream",
            "Perfume",
            "Nail Polish Set",
            "Sunscreen",
            "Hair Dryer",
        ),
        22.0,
        1.0,
        0.10,
        340,
        0.9,
        1.0,
        1.2,
        0.35,
        (),
    ),
    _CategorySpec(
        "Sports & Outdoors",
        (
            "Yoga Mat",
            "Camping Tent",
            "Water Bottle",
            "Hiking Backpack",
            "Resistance Bands",
            "Cycling Helmet",
            "Dumbbell Set",
            "Sleeping Bag",
            "Trekking Poles",
            "Jump Rope",
        ),
        50.0,
        0.9,
        0.35,
        190,
        0.9,
        0.0,
        1.3,
        0.2,
        ("Sport & Outdoors", "Sports and Outdoors", "Sport & Outdoor"),
    ),
    _CategorySpec(
        "Toys & Games",
        (
            "Building Blocks",
            "Board Game",
            "Jigsaw Puzzle",
            "Plush Bear",
            "RC Car",
            "Card Game",
            "Science Kit",
            "Dollhouse",
            "Toy Train Set",
            "Art Set",
        ),
        28.0,
        0.9,
        0.45,
        350,
        1.5,
        0.0,
        1.3,
        0.2,
        ("Toys and Games", "Toy & Games"),
    ),
    _CategorySpec(
        "Books",
        (
            "Cookbook",
            "Mystery Novel",
            "Travel Guide",
            "Picture Book",
            "Sci-Fi Anthology",
            "History Atlas",
            "Poetry Collection",
            "Self-Help Guide",
            "Fantasy Saga",
            "Biography",
        ),
        14.0,
        0.8,
        0.12,
        200,
        0.8,
        0.0,
        1.1,
        0.25,
        ("Book",),
    ),
    _CategorySpec(
        "Grocery",
        (
            "Ground Coffee",
            "Green Tea",
            "Olive Oil",
            "Dark Chocolate",
            "Granola",
            "Pasta",
            "Honey",
            "Trail Mix",
            "Basmati Rice",
            "Hot Sauce",
        ),
        9.0,
        1.1,
        0.05,
        340,
        0.4,
        0.3,
        1.35,
        0.8,
        (),
    ),
    _CategorySpec(
        "Health",
        (
            "Multivitamin",
            "Protein Powder",
            "Vitamin D",
            "Fish Oil",
            "First Aid Kit",
            "Digital Thermometer",
            "Electrolyte Mix",
            "Probiotic",
            "Heating Pad",
            "Sleep Aid",
        ),
        18.0,
        0.8,
        0.20,
        15,
        0.6,
        0.0,
        1.05,
        0.4,
        (),
    ),
    _CategorySpec(
        "Automotive",
        (
            "Phone Mount",
            "Dash Cam",
            "Tire Inflator",
            "Car Wax",
            "Seat Covers",
            "Jump Starter",
            "Floor Mats",
            "Wiper Blades",
            "Car Vacuum",
            "LED Headlights",
        ),
        40.0,
        0.5,
        0.15,
        160,
        0.8,
        0.0,
        1.3,
        0.15,
        ("Auto-motive",),
    ),
    _CategorySpec(
        "Office Supplies",
        (
            "Notebook",
            "Gel Pens",
            "Desk Organizer",
            "Sticky Notes",
            "Stapler",
            "Printer Paper",
            "Whiteboard",
            "Seat Cushion",
            "Highlighters",
            "File Folders",
        ),
        15.0,
        0.6,
        0.30,
        240,
        0.7,
        0.0,
        0.7,
        0.6,
        ("Office-Supplies", "Office supplies"),
    ),
    _CategorySpec(
        "Pet Supplies",
        (
            "Dog Food",
            "Cat Litter",
            "Chew Toy",
            "Pet Bed",
            "Dog Leash",
            "Cat Tree",
            "Pet Shampoo",
            "Aquarium Filter",
            "Bird Seed",
            "Dog Treats",
        ),
        25.0,
        0.7,
        0.05,
        180,
        0.6,
        0.0,
        1.15,
        0.5,
        ("Pets Supplies", "Pet-Supplies"),
    ),
)
_BRANDS = (
    "Aurora",
    "Nimbus",
    "Vertex",
    "Lumen",
    "Northwind",
    "Cedar",
    "Solace",
    "Kestrel",
    "Orion",
    "Maple",
    "Summit",
    "Harbor",
    "Zephyr",
    "Ember",
    "Atlas",
    "Willow",
)
_PRODUCTS_PER_CATEGORY = 20
DEFAULT_PRODUCTS = _PRODUCTS_PER_CATEGORY * len(_CATEGORIES)
MAX_CATEGORIES = len(_CATEGORIES)
_PAYMENT_METHODS = (
    "Credit Card",
    "Debit Card",
    "PayPal",
    "Apple Pay",
    "Gift Card",
    "Bank Transfer",
)
_PAYMENT_WEIGHTS = np.array([0.38, 0.22, 0.18, 0.12, 0.04, 0.06])
_CITIES = (
    "New York",
    "Los Angeles",
    "Chicago",
    "Houston",
    "Phoenix",
    "Philadelphia",
    "San Antonio",
    "San Diego",
    "Dallas",
    "Austin",
    "Jacksonville",
    "San Jose",
    "Columbus",
    "Charlotte",
    "Indianapolis",
    "Seattle",
    "Denver",
    "Boston",
    "Nashville",
    "Portland",
)
_CITY_WEIGHTS = np.array([14, 10, 7, 6, 5, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2], float)

_LAUNCH_SHARE = 0.2
_DISCONTINUED_SHARE = 0.1
_LAUNCH_RAMP_DAYS = 20.0
_PRICE_RISE_SHARE = 0.6
_RATING_EFFECT = 0.9
_RATING_DAILY_DRIFT = 0.012
_NOISE_SIGMA = 0.15
_DAY_SHOCK_SIGMA = 0.06
_WEEKDAY_PROFILE = np.array([0.97, 0.94, 0.95, 0.99, 1.04, 1.0, 1.0])
_ORDER_SIZE_PROBS = np.array([0.85, 0.11, 0.04])
_PREFERRED_PAYMENT_SHARE = 0.7
_MAX_EXTRA_UNITS = 4
_ORDER_ID_DIGITS = 7
_CUSTOMER_ID_DIGITS = 6
_MISSING_ORDER_IDS = pl.Series([None, "NA", "null"], dtype=pl.String)
_BAD_RATINGS_TENTHS = np.array([0, 60, 75, 100, -10])
_RATING_TENTHS_OFFSET = 10
_RATING_LABELS = pl.Series([f"{tenths / 10:.1f}" for tenths in range(-10, 101)])
_UNPARSEABLE_DATE_VARIANTS = 6
_FUTURE_DATE_VARIANTS = 2

_MAX_CHUNK_LINES = 400_000

_CATALOG_STREAM = 0
_CUSTOMER_STREAM = 1
_FIRST_CHUNK_STREAM = 2


@dataclass(frozen=True)
class ShopShape:
    """The shop an export describes: its calendar (first and last day), how many products it
    sells, in how many of the generator's categories (0: the export leaves Category blank), and
    whether its lines carry ratings and review counts (False: no Rating and Reviews columns)."""

    start: dt.date = CALENDAR_START
    end: dt.date = CALENDAR_END
    products: int = DEFAULT_PRODUCTS
    categories: int = MAX_CATEGORIES
    ratings: bool = True

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def check(self) -> None:
        """Raise ValueError naming the setting that no shop can have."""
        if self.days < MIN_DAYS:
            raise ValueError(
                f"the calendar must span at least {MIN_DAYS} days, got {self.start} to {self.end}"
            )
        if self.products < 1:
            raise ValueError(f"products must be at least 1, got {self.products}")
        if not 0 <= self.categories <= MAX_CATEGORIES:
            raise ValueError(
                f"categories must be between 0 and {MAX_CATEGORIES}, got {self.categories}"
            )

    def columns(self) -> list[str]:
        """The export's header."""
        return [c for c in EXPORT_COLUMNS if self.ratings or c not in RATING_COLUMNS]

    def dirty_fractions(self) -> dict[str, float]:
        """`DIRTY_FRACTIONS` without the defects the export's columns cannot carry."""
        absent = {
            "rating_out_of_range": not self.ratings,
            "category_variant": self.categories == 0,
        }
        return {name: 0.0 if absent.get(name) else f for name, f in DIRTY_FRACTIONS.items()}


def expected_rows(rows: int | None, density: float | None, shape: ShopShape) -> int:
    """The export's expected size: `rows` (at least MIN_ROWS; DEFAULT_ROWS when neither is
    given), or `density` order lines per product per month over the shape's calendar."""
    if rows is not None and density is not None:
        raise ValueError("give rows or a density, not both")
    if density is None:
        rows = DEFAULT_ROWS if rows is None else rows
        if rows < MIN_ROWS:
            raise ValueError(f"rows must be at least {MIN_ROWS}, got {rows}")
        return rows
    if density <= 0:
        raise ValueError(f"the density must be positive, got {density}")
    return max(1, round(density * shape.products * shape.days / DAYS_PER_MONTH))


def generate_orders(
    path: Path,
    rows: int | None = None,
    seed: int = DEFAULT_SEED,
    progress: bool = False,
    shape: ShopShape = ShopShape(),
    density: float | None = None,
) -> GenerationSummary:
    """Write an order export of about `rows` lines (default DEFAULT_ROWS) to `path`, or of
    `density` order lines per product per month.

    The layout is the original export's: CSV, UTF-8, LF line ends, a header row of
    `EXPORT_COLUMNS` (without Rating and Reviews when the shape has no ratings). The same
    arguments always give a byte-identical file. The export is written to a temporary file next
    to `path` and renamed at the end, so `path` never holds a partial file. `progress=True`
    shows a progress bar (over calendar days) on stderr. Raises ValueError for an impossible
    setting, or when a tiny shop samples no order line at all.
    """
    shape.check()
    rows = expected_rows(rows, density, shape)
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    path = Path(path)
    days = _calendar_days(shape)
    fractions = shape.dirty_fractions()
    clean_rows = rows / (1 + sum(fractions[name] for name in _COPIED_DEFECTS))
    catalog = _build_catalog(_stream(seed, _CATALOG_STREAM), days, clean_rows, shape)
    customers = _build_customers(_stream(seed, _CUSTOMER_STREAM), rows)
    labels = _build_labels(catalog, days, shape)
    totals = _RunningTotals(
        product_lines=np.zeros(len(catalog.names), np.int64), fractions=fractions
    )
    chunks = _chunk_bounds(days, catalog.lines_per_day.sum(axis=0))
    with (
        _atomic_output(path) as handle,
        tqdm(total=len(days), unit="day", disable=not progress, file=sys.stderr) as bar,
    ):
        for index, (first_day, end_day) in enumerate(chunks):
            rng = _stream(seed, _FIRST_CHUNK_STREAM + index)
            lines = _sample_lines(rng, catalog, customers, totals, first_day, end_day)
            totals.record_clean(lines)
            quotas = totals.defect_quotas()
            export, injected = _inject_defects(rng, lines, quotas, len(days))
            totals.record_export(len(export), injected)
            _render(export, labels).select(shape.columns()).write_csv(
                handle, include_header=index == 0, float_precision=2
            )
            bar.update(end_day - first_day)
            bar.set_postfix_str(f"{totals.rows_written:,} rows")
        if totals.clean_rows == 0:
            raise ValueError(
                f"no order line was sampled for {shape.products} product(s) over {shape.days} "
                f"days from {rows} expected lines; ask for more rows or a higher density"
            )
    return totals.summary(path, seed, catalog, days, shape)


@dataclass(frozen=True)
class _Catalog:
    names: list[str]
    category: IntArray
    price: FloatArray
    rating_tenths: IntArray
    lines_per_day: FloatArray
    review_rate: FloatArray
    initial_reviews: IntArray


@dataclass(frozen=True)
class _Customers:
    number: IntArray
    city: IntArray
    preferred_payment: IntArray


@dataclass(frozen=True)
class _Labels:
    dates: pl.Series
    products: pl.Series
    categories: pl.Series


@dataclass
class _Lines:
    """Order lines as parallel arrays; string columns are codes into `_Labels` tables."""

    order_number: IntArray
    date_code: IntArray
    customer: IntArray
    product: IntArray
    category_code: IntArray
    price: FloatArray
    quantity: IntArray
    total: FloatArray
    rating_tenths: IntArray
    reviews: IntArray
    payment: IntArray
    city: IntArray

    def __len__(self) -> int:
        return len(self.order_number)

    def take(self, rows: IntArray) -> _Lines:
        return _Lines(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})

    def concat(self, *others: _Lines) -> _Lines:
        return _Lines(
            **{
                f.name: np.concatenate([getattr(part, f.name) for part in (self, *others)])
                for f in fields(self)
            }
        )


@dataclass
class _RunningTotals:
    product_lines: IntArray
    fractions: dict[str, float]
    next_order: int = 1
    clean_rows: int = 0
    rows_written: int = 0
    first_day: int = -1
    last_day: int = -1
    dirty_rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DIRTY_FRACTIONS, 0))

    def record_clean(self, lines: _Lines) -> None:
        if len(lines) == 0:
            return
        self.product_lines += np.bincount(lines.product, minlength=len(self.product_lines))
        self.next_order = int(lines.order_number[-1]) + 1
        self.clean_rows += len(lines)
        if self.first_day < 0:
            self.first_day = int(lines.date_code[0])
        self.last_day = int(lines.date_code[-1])

    def defect_quotas(self) -> dict[str, int]:
        """Rows of each class still owed so that the running share matches `fractions`."""
        return {
            name: max(0, round(fraction * self.clean_rows) - self.dirty_rows[name])
            for name, fraction in self.fractions.items()
        }

    def record_export(self, rows: int, injected: dict[str, int]) -> None:
        self.rows_written += rows
        for name, count in injected.items():
            self.dirty_rows[name] += count

    def summary(
        self,
        path: Path,
        seed: int,
        catalog: _Catalog,
        days: npt.NDArray[np.datetime64],
        shape: ShopShape,
    ) -> GenerationSummary:
        sold = self.product_lines > 0
        return GenerationSummary(
            path=path,
            rows_written=self.rows_written,
            products=int(sold.sum()),
            categories=len(np.unique(catalog.category[sold])) if shape.categories else 0,
            first_date=days[self.first_day].item(),
            last_date=days[self.last_day].item(),
            dirty_rows=dict(self.dirty_rows),
            seed=seed,
        )


def _stream(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream,)))


def _calendar_days(shape: ShopShape) -> npt.NDArray[np.datetime64]:
    return np.arange(
        np.datetime64(shape.start), np.datetime64(shape.end) + 1, dtype="datetime64[D]"
    )


def _chunk_bounds(
    days: npt.NDArray[np.datetime64], expected_lines: FloatArray
) -> list[tuple[int, int]]:
    """Day ranges [start, end) of one calendar month each; a month expected to have more than
    `_MAX_CHUNK_LINES` lines is split into even parts."""
    months = days.astype("datetime64[M]")
    starts = np.flatnonzero(np.r_[True, months[1:] != months[:-1]])
    ends = np.r_[starts[1:], len(days)]
    bounds: list[tuple[int, int]] = []
    for start, end in zip(starts, ends, strict=True):
        parts = int(np.ceil(expected_lines[start:end].sum() / _MAX_CHUNK_LINES))
        cuts = np.linspace(start, end, min(max(parts, 1), end - start) + 1).round().astype(int)
        bounds.extend(zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True))
    return bounds


def _build_catalog(
    rng: np.random.Generator,
    days: npt.NDArray[np.datetime64],
    clean_rows: float,
    shape: ShopShape,
) -> _Catalog:
    names, category = _product_names(rng, shape.products, max(shape.categories, 1))
    n_products, n_days = len(names), len(days)
    specs = _CATEGORIES
    base_price = _shelf_price(
        np.array([specs[c].median_price for c in category]) * rng.lognormal(0, 0.45, n_products)
    )
    price = _price_paths(rng, base_price, n_days)
    rating = _rating_paths(rng, n_products, n_days)
    launch_day, availability = _lifecycle(rng, n_products, n_days)
    popularity = rng.lognormal(0.0, 1.3, n_products) * np.array(
        [specs[c].demand_share for c in category]
    )
    growth = _growth(rng, n_products, n_days)
    elasticity = rng.uniform(1.0, 2.5, n_products)
    demand = (
        popularity[:, None]
        * availability
        * growth
        * _category_day_effects(days)[category]
        * (price / base_price[:, None]) ** -elasticity[:, None]
        * np.exp(_RATING_EFFECT * (rating - 4.0))
        * rng.lognormal(-(_NOISE_SIGMA**2) / 2, _NOISE_SIGMA, (n_products, n_days))
        * rng.lognormal(0.0, _DAY_SHOCK_SIGMA, n_days)
    )
    lines_per_day = demand * (clean_rows / demand.sum())
    review_rate = rng.uniform(0.03, 0.12, n_products)
    age_at_start = np.where(launch_day > 0, 0, rng.integers(60, 1500, n_products))
    reviews_before_start = review_rate * lines_per_day[:, :90].mean(axis=1) * age_at_start
    initial_reviews = np.floor(reviews_before_start) + rng.integers(1, 30, n_products)
    return _Catalog(
        names=names,
        category=category,
        price=price,
        rating_tenths=np.rint(rating * 10).astype(np.int64),
        lines_per_day=lines_per_day,
        review_rate=review_rate,
        initial_reviews=initial_reviews.astype(np.int64),
    )


def _product_names(
    rng: np.random.Generator, products: int, categories: int
) -> tuple[list[str], IntArray]:
    """Unique "<Brand> <Noun>" names spread evenly over the first `categories` categories; a
    category with more products than brand and noun pairs numbers its series ("... 2")."""
    per_category = np.full(categories, products // categories)
    per_category[: products % categories] += 1
    names: list[str] = []
    for spec, count in zip(_CATEGORIES, per_category.tolist(), strict=False):
        pairs = len(_BRANDS) * len(spec.nouns)
        series = max(1, -(-count // pairs))
        for pick in np.sort(rng.choice(pairs * series, count, replace=False)):
            number, pair = divmod(int(pick), pairs)
            brand, noun = divmod(pair, len(spec.nouns))
            suffix = f" {number + 1}" if number else ""
            names.append(f"{_BRANDS[brand]} {spec.nouns[noun]}{suffix}")
    category = np.repeat(np.arange(categories, dtype=np.int64), per_category)
    return names, category


def _shelf_price(raw: FloatArray) -> FloatArray:
    """Round to the retail endings .49 / .99."""
    return np.maximum(np.round(raw * 2) / 2 - 0.01, 0.49)


def _price_paths(rng: np.random.Generator, base_price: FloatArray, n_days: int) -> FloatArray:
    """Shelf price per product and day with one to three step changes of 5-30% each."""
    n_products = len(base_price)
    changed = np.repeat(np.arange(n_products), rng.integers(1, 4, n_products))
    margin = min(45, n_days // 4)
    change_day = rng.integers(margin, max(n_days - margin, margin + 1), len(changed))
    size = rng.uniform(0.05, 0.30, len(changed))
    step = np.log1p(np.where(rng.random(len(changed)) < _PRICE_RISE_SHARE, size, -size))
    log_steps = np.zeros((n_products, n_days))
    np.add.at(log_steps, (changed, change_day), step)
    return _shelf_price(base_price[:, None] * np.exp(np.cumsum(log_steps, axis=1)))


def _rating_paths(rng: np.random.Generator, n_products: int, n_days: int) -> FloatArray:
    """A per-product average rating between 2.5 and 5.0 that drifts slowly."""
    start = rng.uniform(2.5, 5.0, n_products)
    drift = np.cumsum(rng.normal(0.0, _RATING_DAILY_DRIFT, (n_products, n_days)), axis=1)
    return np.clip(start[:, None] + drift, 2.5, 5.0)


def _lifecycle(
    rng: np.random.Generator, n_products: int, n_days: int
) -> tuple[IntArray, FloatArray]:
    """Launch day per product and an availability factor (0 before launch / after stop)."""
    launched = rng.random(n_products) < _LAUNCH_SHARE
    first_launch = min(60, n_days // 3)
    last_launch = max(n_days - 300, 2 * n_days // 3, first_launch + 1)
    launch_day = np.where(launched, rng.integers(first_launch, last_launch, n_products), 0)
    discontinued = rng.random(n_products) < _DISCONTINUED_SHARE
    last_stop = n_days - min(60, n_days // 6)
    first_stop = np.minimum(launch_day + min(180, n_days // 3), last_stop - 1)
    stop_day = np.where(discontinued, rng.integers(first_stop, last_stop), n_days)
    day = np.arange(n_days)
    age = day[None, :] - launch_day[:, None]
    ramp = np.where(launched[:, None], 1.0 - np.exp(-np.maximum(age, 0) / _LAUNCH_RAMP_DAYS), 1.0)
    on_sale = (age >= 0) & (day[None, :] < stop_day[:, None])
    return launch_day, np.where(on_sale, ramp, 0.0)


def _growth(rng: np.random.Generator, n_products: int, n_days: int) -> FloatArray:
    """Smooth growth or decline at a per-product annual rate between -40% and +60%."""
    annual_rate = rng.uniform(-0.4, 0.6, n_products)
    years_from_middle = (np.arange(n_days) - n_days / 2) / 365.0
    return (1.0 + annual_rate[:, None]) ** years_from_middle[None, :]


def _category_day_effects(days: npt.NDArray[np.datetime64]) -> FloatArray:
    """Yearly season x weekday pattern x retail events, per category and day."""
    specs = _CATEGORIES
    day_of_year = (days - days.astype("datetime64[Y]")).astype(np.int64)
    weekday = (days.astype(np.int64) + 3) % 7
    amplitude = np.array([spec.season_amplitude for spec in specs])[:, None]
    peak = np.array([spec.season_peak_day for spec in specs])[:, None]
    season = np.exp(amplitude * np.cos(2 * np.pi * (day_of_year[None, :] - peak) / 365.25))
    weekend_boost = np.array([spec.weekend_boost for spec in specs])[:, None]
    weekly = _WEEKDAY_PROFILE[weekday][None, :] * np.where(weekday >= 5, weekend_boost, 1.0)
    event = np.array([spec.event_sensitivity for spec in specs])[:, None]
    valentine = np.array([spec.valentine_sensitivity for spec in specs])[:, None]
    events = (
        1.0
        + event * (_retail_event_lift(days)[None, :] - 1.0)
        + valentine * (_valentine_lift(days)[None, :] - 1.0)
    )
    return season * weekly * np.maximum(events, 0.1)


def _retail_event_lift(days: npt.NDArray[np.datetime64]) -> FloatArray:
    """Black Friday to Cyber Monday, the pre-Christmas weeks and a mid-July sale event."""
    lift = np.ones(len(days))
    start, end = days[0].item(), days[-1].item()
    for year in range(start.year, end.year + 1):
        _set_lift(lift, start, dt.date(year, 12, 1), list(np.linspace(1.25, 1.7, 20)))
        _set_lift(lift, start, dt.date(year, 12, 21), [1.3, 1.3, 1.3, 0.8, 0.45] + [1.1] * 6)
        thanksgiving = _nth_weekday(year, 11, weekday=3, n=4)
        _set_lift(lift, start, thanksgiving - dt.timedelta(days=7), [1.25] * 7)
        _set_lift(lift, start, thanksgiving, [1.5, 3.2, 2.3, 2.0, 2.8])
        july_sale = _nth_weekday(year, 7, weekday=1, n=2)
        _set_lift(lift, start, july_sale - dt.timedelta(days=1), [1.2, 2.4, 2.1])
    return lift


def _valentine_lift(days: npt.NDArray[np.datetime64]) -> FloatArray:
    lift = np.ones(len(days))
    start, end = days[0].item(), days[-1].item()
    for year in range(start.year, end.year + 1):
        _set_lift(lift, start, dt.date(year, 2, 1), [1.3] * 6 + [2.0] * 7 + [1.4])
    return lift


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _set_lift(lift: FloatArray, first_day: dt.date, start: dt.date, values: list[float]) -> None:
    """Write `values` into `lift` (a calendar from `first_day`) from `start` on, skipping days
    outside the calendar."""
    offset = (start - first_day).days
    index = offset + np.arange(len(values))
    inside = (index >= 0) & (index < len(lift))
    lift[index[inside]] = np.asarray(values)[inside]


def _build_customers(rng: np.random.Generator, rows: int) -> _Customers:
    pool = int(np.clip(rows // 6, 200, 10**_CUSTOMER_ID_DIGITS - 1))
    return _Customers(
        number=rng.permutation(pool).astype(np.int64) + 1,
        city=rng.choice(len(_CITIES), pool, p=_CITY_WEIGHTS / _CITY_WEIGHTS.sum()),
        preferred_payment=rng.choice(len(_PAYMENT_METHODS), pool, p=_PAYMENT_WEIGHTS),
    )


def _build_labels(catalog: _Catalog, days: npt.NDArray[np.datetime64], shape: ShopShape) -> _Labels:
    iso = [str(day) for day in days]
    unparseable = [label for date in iso for label in _unparseable_dates(date)]
    future = [label for date in iso for label in _future_dates(date)]
    variants = [label for spec in _CATEGORIES for label in _category_variants(spec)]
    categories = [spec.name for spec in _CATEGORIES] + variants
    return _Labels(
        dates=pl.Series(iso + unparseable + future, dtype=pl.String),
        products=pl.Series(catalog.names, dtype=pl.String),
        categories=pl.Series(
            categories if shape.categories else [None] * len(categories), dtype=pl.String
        ),
    )


def _unparseable_dates(iso: str) -> list[str | None]:
    year, _, day = iso.split("-")
    return [
        f"31/02/{year}",
        f"{year}-13-{32 + int(day) % 28}",
        "N/A",
        "not a date",
        None,
        "00/00/0000",
    ]


def _future_dates(iso: str) -> list[str]:
    """Year typos: swapped last digits (2024 -> 2042; 40 years on when that is not later, as
    2030 -> 2070) or 2099; Feb 29 becomes Feb 28."""
    year, month, day = iso.split("-")
    day = "28" if (month, day) == ("02", "29") else day
    swapped = f"{year[:2]}{year[3]}{year[2]}"
    typo = swapped if swapped > year else str(int(year) + 40)
    return [f"{typo}-{month}-{day}", f"2099-{month}-{day}"]


def _category_variants(spec: _CategorySpec) -> list[str]:
    name = spec.name
    return [name.lower(), name.upper(), f" {name}", f"{name}  ", *spec.spellings]


def _sample_lines(
    rng: np.random.Generator,
    catalog: _Catalog,
    customers: _Customers,
    totals: _RunningTotals,
    first_day: int,
    end_day: int,
) -> _Lines:
    """Clean order lines for days [first_day, end_day), sorted by day then order number."""
    n_products = len(catalog.names)
    counts = rng.poisson(catalog.lines_per_day[:, first_day:end_day].T).ravel()
    cell = np.repeat(np.arange(len(counts)), counts)
    day = first_day + cell // n_products
    product = cell % n_products
    shuffled = np.lexsort((rng.random(len(cell)), day))
    day, product = day[shuffled], product[shuffled]
    order = _group_into_orders(rng, day, product)
    n_orders = int(order[-1]) + 1 if len(order) else 0
    slot = (len(customers.number) * rng.random(n_orders) ** 2).astype(np.int64)
    payment = np.where(
        rng.random(n_orders) < _PREFERRED_PAYMENT_SHARE,
        customers.preferred_payment[slot],
        rng.choice(len(_PAYMENT_METHODS), n_orders, p=_PAYMENT_WEIGHTS),
    )
    category = catalog.category[product]
    extra_units = np.array([spec.extra_units for spec in _CATEGORIES])[category]
    quantity = 1 + np.minimum(rng.poisson(extra_units), _MAX_EXTRA_UNITS)
    price = catalog.price[product, day]
    return _Lines(
        order_number=totals.next_order + order,
        date_code=day,
        customer=customers.number[slot][order],
        product=product,
        category_code=category,
        price=price,
        quantity=quantity,
        total=np.round(price * quantity, 2),
        rating_tenths=catalog.rating_tenths[product, day],
        reviews=_reviews(catalog, product, totals.product_lines),
        payment=payment[order],
        city=customers.city[slot][order],
    )


def _group_into_orders(rng: np.random.Generator, day: IntArray, product: IntArray) -> IntArray:
    """0-based order index per line: orders of 1-3 lines, within one day, distinct products."""
    n = len(day)
    starts = np.zeros(n, dtype=bool)
    ends = np.cumsum(rng.choice(len(_ORDER_SIZE_PROBS), n, p=_ORDER_SIZE_PROBS) + 1)
    starts[ends[ends < n]] = True
    starts[:1] = True
    starts[1:] |= day[1:] != day[:-1]
    provisional = np.cumsum(starts)
    repeated = np.zeros(n, dtype=bool)
    for lag in range(1, len(_ORDER_SIZE_PROBS)):
        repeated[lag:] |= (product[lag:] == product[:-lag]) & (
            provisional[lag:] == provisional[:-lag]
        )
    return np.cumsum(starts | repeated) - 1


def _reviews(catalog: _Catalog, product: IntArray, lines_before: IntArray) -> IntArray:
    """Review count shown on each line: grows with every earlier order line of the product."""
    past_lines = lines_before[product] + _rank_within_group(product)
    earned = np.floor(catalog.review_rate[product] * past_lines).astype(np.int64)
    return catalog.initial_reviews[product] + earned


def _rank_within_group(keys: IntArray) -> IntArray:
    """0, 1, 2, ... for successive occurrences of each key, in array order."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    group_start = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    group_size = np.diff(np.r_[group_start, len(keys)])
    rank = np.empty(len(keys), dtype=np.int64)
    rank[order] = np.arange(len(keys)) - np.repeat(group_start, group_size)
    return rank


def _inject_defects(
    rng: np.random.Generator, lines: _Lines, quotas: dict[str, int], n_days: int
) -> tuple[_Lines, dict[str, int]]:
    """Corrupt or copy disjoint sets of clean rows; return the export rows and counts per class."""
    used = np.zeros(len(lines), dtype=bool)
    resent_rows = _pick_resent_orders(rng, lines.order_number, quotas["resent_order"])
    used[resent_rows] = True
    duplicate_rows = rng.permutation(np.flatnonzero(~used))[: quotas["exact_duplicate"]]
    used[duplicate_rows] = True
    injected = {"exact_duplicate": len(duplicate_rows), "resent_order": len(resent_rows)}
    free = rng.permutation(np.flatnonzero(~used))
    start = 0
    for name, corrupt in _IN_PLACE_DEFECTS.items():
        rows = np.sort(free[start : start + quotas[name]])
        corrupt(rng, lines, rows, n_days)
        injected[name] = len(rows)
        start += len(rows)
    duplicates = lines.take(duplicate_rows)
    resent = lines.take(resent_rows)
    resent.reviews += rng.integers(1, 30, len(resent_rows))
    position = np.concatenate(
        [
            2 * np.arange(len(lines)),
            2 * rng.integers(duplicate_rows + 1, len(lines) + 1) - 1,
            2 * _later_positions(rng, lines.order_number, resent_rows) - 1,
        ]
    )
    export = lines.concat(duplicates, resent).take(np.argsort(position, kind="stable"))
    return export, {name: injected[name] for name in DIRTY_FRACTIONS}


def _pick_resent_orders(rng: np.random.Generator, order_number: IntArray, quota: int) -> IntArray:
    """All rows of randomly chosen whole orders, at most `quota` rows in total."""
    _, first_row, size = np.unique(order_number, return_index=True, return_counts=True)
    chosen = rng.permutation(len(size))
    chosen = np.sort(chosen[np.cumsum(size[chosen]) <= quota])
    return _concatenated_ranges(first_row[chosen], size[chosen])


def _concatenated_ranges(starts: IntArray, lengths: IntArray) -> IntArray:
    """[starts[0], starts[0] + lengths[0]) followed by the next range, and so on."""
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(lengths.sum())


def _later_positions(rng: np.random.Generator, order_number: IntArray, rows: IntArray) -> IntArray:
    """For rows grouped by order, one insertion point per order after its last row."""
    _, group, size = np.unique(order_number[rows], return_inverse=True, return_counts=True)
    last_row = rows[np.cumsum(size) - 1]
    return rng.integers(last_row + 1, len(order_number) + 1)[group]


def _corrupt_order_id(rng: np.random.Generator, lines: _Lines, rows: IntArray, _: int) -> None:
    lines.order_number[rows] = -1 - rng.integers(0, len(_MISSING_ORDER_IDS), len(rows))


def _corrupt_date_format(
    rng: np.random.Generator, lines: _Lines, rows: IntArray, n_days: int
) -> None:
    variant = rng.integers(0, _UNPARSEABLE_DATE_VARIANTS, len(rows))
    lines.date_code[rows] = n_days + lines.date_code[rows] * _UNPARSEABLE_DATE_VARIANTS + variant


def _corrupt_date_year(
    rng: np.random.Generator, lines: _Lines, rows: IntArray, n_days: int
) -> None:
    variant = rng.integers(0, _FUTURE_DATE_VARIANTS, len(rows))
    offset = n_days * (1 + _UNPARSEABLE_DATE_VARIANTS)
    lines.date_code[rows] = offset + lines.date_code[rows] * _FUTURE_DATE_VARIANTS + variant


def _corrupt_quantity(rng: np.random.Generator, lines: _Lines, rows: IntArray, _: int) -> None:
    quantity = np.where(rng.random(len(rows)) < 0.4, 0, -rng.integers(1, 4, len(rows)))
    lines.quantity[rows] = quantity
    lines.total[rows] = np.round(lines.price[rows] * quantity, 2)


def _corrupt_price(rng: np.random.Generator, lines: _Lines, rows: IntArray, _: int) -> None:
    blank = rng.random(len(rows)) < 0.5
    price = np.where(blank, np.nan, -lines.price[rows])
    lines.price[rows] = price
    lines.total[rows] = np.round(price * lines.quantity[rows], 2)


def _corrupt_total(rng: np.random.Generator, lines: _Lines, rows: IntArray, _: int) -> None:
    total = lines.total[rows]
    delta = np.maximum(total * rng.uniform(0.1, 0.6, len(rows)), 0.1)
    sign = np.where(rng.random(len(rows)) < 0.5, -1.0, 1.0)
    lines.total[rows] = np.round(total + sign * delta, 2)


def _corrupt_rating(rng: np.random.Generator, lines: _Lines, rows: IntArray, _: int) -> None:
    lines.rating_tenths[rows] = rng.choice(_BAD_RATINGS_TENTHS, len(rows))


def _vary_category(rng: np.random.Generator, lines: _Lines, rows: IntArray, _: int) -> None:
    count = np.array([len(_category_variants(spec)) for spec in _CATEGORIES])
    first_code = len(_CATEGORIES) + np.cumsum(count) - count
    category = lines.category_code[rows]
    variant = (rng.random(len(rows)) * count[category]).astype(np.int64)
    lines.category_code[rows] = first_code[category] + variant


_IN_PLACE_DEFECTS: dict[str, Callable[[np.random.Generator, _Lines, IntArray, int], None]] = {
    "missing_order_id": _corrupt_order_id,
    "unparseable_date": _corrupt_date_format,
    "future_date": _corrupt_date_year,
    "bad_quantity": _corrupt_quantity,
    "bad_price": _corrupt_price,
    "total_mismatch": _corrupt_total,
    "rating_out_of_range": _corrupt_rating,
    "category_variant": _vary_category,
}


def _render(lines: _Lines, labels: _Labels) -> pl.DataFrame:
    """The export rows with the layout and string formats of `EXPORT_COLUMNS`."""
    order_ids = _prefixed_numbers("ORD-", lines.order_number, _ORDER_ID_DIGITS)
    missing = np.flatnonzero(lines.order_number < 0)
    order_ids.scatter(missing, _MISSING_ORDER_IDS.gather(-1 - lines.order_number[missing]))
    return pl.DataFrame(
        {
            "OrderID": order_ids,
            "OrderDate": labels.dates.gather(lines.date_code),
            "CustomerID": _prefixed_numbers("CUST-", lines.customer, _CUSTOMER_ID_DIGITS),
            "Product": labels.products.gather(lines.product),
            "Category": labels.categories.gather(lines.category_code),
            "Price": pl.Series(lines.price).fill_nan(None),
            "Quantity": lines.quantity,
            "TotalAmount": pl.Series(lines.total).fill_nan(None),
            "Rating": _RATING_LABELS.gather(lines.rating_tenths + _RATING_TENTHS_OFFSET),
            "Reviews": lines.reviews,
            "PaymentMethod": pl.Series(_PAYMENT_METHODS).gather(lines.payment),
            "City": pl.Series(_CITIES).gather(lines.city),
        }
    )


def _prefixed_numbers(prefix: str, numbers: IntArray, digits: int) -> pl.Series:
    return prefix + pl.Series(numbers).cast(pl.String).str.zfill(digits)


@contextmanager
def _atomic_output(path: Path) -> Iterator[BinaryIO]:
    """A binary file that appears at `path` only once the block completes without error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
