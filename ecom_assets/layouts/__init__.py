"""Export layouts: how one kind of store export maps onto the canonical order-line schema.

A layout is a small YAML file (see the built-in ones beside this module). Built-in layouts ship
with the package; users add their own by dropping a file into the folder named by
`ECOM_LAYOUTS_DIR` (default `data/layouts`). Nothing in the pipeline names a layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

BUILTIN_DIR = Path(__file__).parent

CANONICAL_FIELDS = (
    "order_id",
    "order_date",
    "customer_id",
    "product_id",
    "product_name",
    "category",
    "price",
    "quantity",
    "line_total",
    "rating",
    "reviews",
    "payment_method",
    "city",
)
REVENUE_RULES = ("price_times_quantity", "line_total")
DEFAULT_NA_VALUES = ("", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "-")


class LayoutError(ValueError):
    """A layout file that cannot be used, with the file and the field at fault."""


@dataclass(frozen=True)
class Layout:
    """A declarative description of one export layout."""

    name: str
    columns: dict[str, str]
    optional_columns: dict[str, str] = field(default_factory=dict)
    encoding: str = "utf-8"
    delimiter: str = ","
    decimal: str = "."
    thousands: str = ""
    date_formats: tuple[str, ...] = ("%Y-%m-%d",)
    na_values: tuple[str, ...] = DEFAULT_NA_VALUES
    revenue: Literal["price_times_quantity", "line_total"] = "price_times_quantity"
    total_tolerance: float = 0.01
    default_category: str = "Uncategorized"
    cancelled_order_prefix: str | None = None
    negative_quantity_is_return: bool = False
    line_key: tuple[str, ...] = ("order_id", "product_id")

    @property
    def source_columns(self) -> dict[str, str]:
        """Canonical field -> source column, required and optional together."""
        return {**self.columns, **self.optional_columns}

    def required_headers(self) -> set[str]:
        """Source column names a file must have to be read with this layout."""
        return set(self.columns.values())


_SETTING_TYPES: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "columns": dict,
    "optional_columns": dict,
    "encoding": str,
    "delimiter": str,
    "decimal": str,
    "thousands": str,
    "date_formats": list,
    "na_values": list,
    "revenue": str,
    "total_tolerance": (int, float),
    "default_category": str,
    "cancelled_order_prefix": str,
    "negative_quantity_is_return": bool,
    "line_key": list,
}


def parse_layout(data: dict[str, Any], origin: str) -> Layout:
    """Build a Layout from a parsed YAML mapping, naming `origin` and the field in any error."""
    if not isinstance(data, dict):
        raise LayoutError(f"{origin}: a layout must be a mapping of settings")
    known = set(Layout.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise LayoutError(f"{origin}: unknown setting(s) {unknown}; known: {sorted(known)}")
    for required in ("name", "columns"):
        if required not in data:
            raise LayoutError(f"{origin}: missing required setting '{required}'")
    mapped = {**data["columns"], **data.get("optional_columns", {})}
    bad_fields = sorted(set(mapped) - set(CANONICAL_FIELDS))
    if bad_fields:
        raise LayoutError(
            f"{origin}: columns map unknown field(s) {bad_fields}; fields: {list(CANONICAL_FIELDS)}"
        )
    for needed in ("order_id", "order_date", "quantity"):
        if needed not in mapped:
            raise LayoutError(f"{origin}: columns must map '{needed}'")
    if "product_id" not in mapped and "product_name" not in mapped:
        raise LayoutError(f"{origin}: columns must map 'product_id' or 'product_name'")
    revenue = data.get("revenue", "price_times_quantity")
    if revenue not in REVENUE_RULES:
        raise LayoutError(f"{origin}: revenue must be one of {REVENUE_RULES}, not {revenue!r}")
    source_of_revenue = "price" if revenue == "price_times_quantity" else "line_total"
    if source_of_revenue not in mapped:
        raise LayoutError(f"{origin}: revenue '{revenue}' needs a '{source_of_revenue}' column")
    for key_field in data.get("line_key", ()):
        if key_field not in (*CANONICAL_FIELDS, "product_id"):
            raise LayoutError(f"{origin}: line_key names unknown field {key_field!r}")
    try:
        "".encode(data.get("encoding", "utf-8"))
    except LookupError as error:
        raise LayoutError(f"{origin}: unknown encoding {data['encoding']!r}") from error
    for name, value in data.items():
        expected = _SETTING_TYPES[name]
        if not isinstance(value, expected) or isinstance(value, bool) != (expected is bool):
            raise LayoutError(f"{origin}: setting '{name}' has the wrong type: {value!r}")
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return Layout(**values)


def load_layout_file(path: Path) -> Layout:
    """Read one layout YAML file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise LayoutError(f"{path}: not valid YAML: {error}") from error
    return parse_layout(data, str(path))


def load_layouts(extra_dir: Path | None = None) -> dict[str, Layout]:
    """The built-in layouts plus any `*.yaml` in `extra_dir`, by name (a user file may override)."""
    files = sorted(BUILTIN_DIR.glob("*.yaml"))
    if extra_dir is not None and extra_dir.is_dir():
        files += sorted(extra_dir.glob("*.yaml")) + sorted(extra_dir.glob("*.yml"))
    return {layout.name: layout for layout in map(load_layout_file, files)}
