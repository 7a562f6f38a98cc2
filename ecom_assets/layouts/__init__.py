"""Export layouts: how one kind of store export maps onto the canonical order-line schema.

A layout is a small YAML file (see the built-in ones beside this module). Built-in layouts ship
with the package; users add their own by dropping a file into the folder named by
`ECOM_LAYOUTS_DIR` (default `data/layouts`). Nothing in the pipeline names a layout.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from ecom_assets.layouts.sniff import AUTO, DELIMITERS

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
REQUIRED_FIELDS = ("order_id", "order_date", "quantity")
REVENUE_RULES = ("price_times_quantity", "line_total")
DECIMALS = (".", ",")
PRODUCT_ID_CASES = ("as_exported", "upper", "lower")
DEFAULT_NA_VALUES = ("", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "-")


class LayoutError(ValueError):
    """A layout file that cannot be used, with the file and the field at fault."""


@dataclass(frozen=True)
class RowFilter:
    """Rows to exclude (rejected as `excluded_status`): those whose `column` is one of `values`
    (`in`), is none of them (`not_in`), or has any value at all (`present`, e.g. a cancellation
    time). Values compare trimmed and case-insensitively; a column the file lacks excludes
    nothing."""

    column: str
    rule: Literal["in", "not_in", "present"]
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class NonProducts:
    """Lines that are not products (postage, fees, vouchers), rejected as `not_a_product`: a
    product id in `codes` (case-insensitive), or an id or name matching `pattern`."""

    codes: tuple[str, ...] = ()
    pattern: str | None = None


@dataclass(frozen=True)
class Layout:
    """A declarative description of one export layout."""

    name: str
    columns: dict[str, str]
    optional_columns: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    encoding: str = AUTO
    delimiter: str = AUTO
    decimal: str = AUTO
    thousands: str = ""
    date_formats: tuple[str, ...] = ("%Y-%m-%d",)
    na_values: tuple[str, ...] = DEFAULT_NA_VALUES
    revenue: Literal["price_times_quantity", "line_total"] = "price_times_quantity"
    total_tolerance: float = 0.01
    default_category: str = "Uncategorized"
    cancelled_order_prefix: str | None = None
    negative_quantity_is_return: bool = False
    line_key: tuple[str, ...] = ("order_id", "product_id")
    exclude_rows: tuple[RowFilter, ...] = ()
    non_products: NonProducts = field(default_factory=NonProducts)
    rows_repeat_per_payment: bool = False
    fill_forward: tuple[str, ...] = ()
    product_id_case: Literal["as_exported", "upper", "lower"] = "as_exported"

    @property
    def source_columns(self) -> dict[str, str]:
        """Canonical field -> source column, required and optional together."""
        return {**self.columns, **self.optional_columns}

    def source_field_columns(self, names: tuple[str, ...]) -> set[str]:
        """The entries of `names` (line_key, fill_forward) that are source columns, not fields."""
        return {name for name in names if name not in CANONICAL_FIELDS}

    def required_headers(self) -> set[str]:
        """Source column names a file must have to be read with this layout: its required
        columns and the source columns its line key is built from."""
        return set(self.columns.values()) | self.source_field_columns(self.line_key)


_SETTING_TYPES: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "columns": dict,
    "optional_columns": dict,
    "constants": dict,
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
    "exclude_rows": list,
    "non_products": dict,
    "rows_repeat_per_payment": bool,
    "fill_forward": list,
    "product_id_case": str,
}
_FILTER_RULES: tuple[Literal["in", "not_in", "present"], ...] = ("in", "not_in", "present")


def _row_filters(entries: list[Any], origin: str) -> tuple[RowFilter, ...]:
    filters = []
    for number, entry in enumerate(entries, start=1):
        where = f"{origin}: exclude_rows entry {number}"
        if not isinstance(entry, dict) or not isinstance(entry.get("column"), str):
            raise LayoutError(f"{where} must be a mapping with a 'column' (a source column name)")
        rules = [rule for rule in _FILTER_RULES if rule in entry]
        unknown = sorted(set(entry) - {"column", *_FILTER_RULES})
        if unknown or len(rules) != 1:
            raise LayoutError(
                f"{where} must have 'column' and exactly one of {list(_FILTER_RULES)}"
                + (f"; unknown: {unknown}" if unknown else "")
            )
        rule: Literal["in", "not_in", "present"] = rules[0]
        value = entry[rule]
        if rule == "present":
            if value is not True:
                raise LayoutError(f"{where}: 'present' must be true")
            filters.append(RowFilter(entry["column"], "present"))
            continue
        if not isinstance(value, list) or not value:
            raise LayoutError(f"{where}: '{rule}' must be a non-empty list of values")
        filters.append(RowFilter(entry["column"], rule, tuple(str(v) for v in value)))
    return tuple(filters)


def _non_products(entry: dict[str, Any], origin: str) -> NonProducts:
    unknown = sorted(set(entry) - {"codes", "pattern"})
    if unknown:
        raise LayoutError(f"{origin}: non_products has unknown setting(s) {unknown}")
    codes = entry.get("codes", [])
    if not isinstance(codes, list):
        raise LayoutError(f"{origin}: non_products codes must be a list of product ids")
    pattern = entry.get("pattern")
    if pattern is not None:
        try:
            re.compile(str(pattern))
        except re.error as error:
            raise LayoutError(f"{origin}: non_products pattern {pattern!r}: {error}") from error
    return NonProducts(tuple(str(c) for c in codes), None if pattern is None else str(pattern))


def _check_codec(value: str, origin: str) -> None:
    if value == AUTO:
        return
    try:
        codecs.lookup(value)
    except LookupError as error:
        raise LayoutError(
            f"{origin}: unknown encoding {value!r} (a Python codec name or auto)"
        ) from error


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
    for name, value in data.items():
        expected = _SETTING_TYPES[name]
        if not isinstance(value, expected) or isinstance(value, bool) != (expected is bool):
            raise LayoutError(f"{origin}: setting '{name}' has the wrong type: {value!r}")
    constants = {k: str(v) for k, v in data.get("constants", {}).items()}
    mapped = {**data["columns"], **data.get("optional_columns", {})}
    bad_fields = sorted((set(mapped) | set(constants)) - set(CANONICAL_FIELDS))
    if bad_fields:
        raise LayoutError(
            f"{origin}: columns map unknown field(s) {bad_fields}; fields: {list(CANONICAL_FIELDS)}"
        )
    both = sorted(set(mapped) & set(constants))
    if both:
        raise LayoutError(f"{origin}: field(s) {both} have both a column and a constant")
    given = set(mapped) | set(constants)
    for needed in REQUIRED_FIELDS:
        if needed not in given:
            raise LayoutError(f"{origin}: columns (or constants) must map '{needed}'")
    if "product_id" not in given and "product_name" not in given:
        raise LayoutError(f"{origin}: columns must map 'product_id' or 'product_name'")
    revenue = data.get("revenue", "price_times_quantity")
    if revenue not in REVENUE_RULES:
        raise LayoutError(f"{origin}: revenue must be one of {REVENUE_RULES}, not {revenue!r}")
    source_of_revenue = "price" if revenue == "price_times_quantity" else "line_total"
    if source_of_revenue not in given:
        raise LayoutError(f"{origin}: revenue '{revenue}' needs a '{source_of_revenue}' column")
    for key_field in data.get("line_key", ()):
        if not isinstance(key_field, str):
            raise LayoutError(f"{origin}: line_key entries must be field or column names")
    for filled in data.get("fill_forward", ()):
        if not isinstance(filled, str):
            raise LayoutError(f"{origin}: fill_forward entries must be field or column names")
    _check_codec(data.get("encoding", AUTO), origin)
    if data.get("delimiter", AUTO) not in (AUTO, *DELIMITERS):
        raise LayoutError(f"{origin}: delimiter must be auto or one of {list(DELIMITERS)}")
    if data.get("product_id_case", "as_exported") not in PRODUCT_ID_CASES:
        raise LayoutError(f"{origin}: product_id_case must be one of {list(PRODUCT_ID_CASES)}")
    if data.get("decimal", AUTO) not in (AUTO, *DECIMALS):
        raise LayoutError(f"{origin}: decimal must be auto or one of {list(DECIMALS)}")
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    values["constants"] = constants
    values["exclude_rows"] = _row_filters(data.get("exclude_rows", []), origin)
    values["non_products"] = _non_products(data.get("non_products", {}), origin)
    return Layout(**values)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise LayoutError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise LayoutError(f"{path}: a layout must be a mapping of settings")
    return data


def _extended(
    data: dict[str, Any], bases: dict[str, dict[str, Any]], origin: str, seen: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A layout's settings on top of those of the layout it `extends` (by name), recursively."""
    base_name = data.get("extends")
    own = {k: v for k, v in data.items() if k != "extends"}
    if base_name is None:
        return own
    if base_name not in bases or base_name in seen:
        raise LayoutError(
            f"{origin}: extends unknown or circular layout {base_name!r}; known: {sorted(bases)}"
        )
    return {**_extended(bases[base_name], bases, origin, (*seen, base_name)), **own}


def load_layout_file(path: Path, bases: dict[str, dict[str, Any]] | None = None) -> Layout:
    """Read one layout YAML file; `extends: <name>` takes every setting it does not give from
    the layout of that name among `bases` (parsed YAML by layout name)."""
    data = _read_yaml(path)
    return parse_layout(
        _extended(data, bases or {}, str(path), (str(data.get("name")),)), str(path)
    )


def load_layouts(extra_dir: Path | None = None) -> dict[str, Layout]:
    """The built-in layouts plus any `*.yaml` in `extra_dir`, by name (a user file may override)."""
    files = sorted(BUILTIN_DIR.glob("*.yaml"))
    if extra_dir is not None and extra_dir.is_dir():
        files += sorted(extra_dir.glob("*.yaml")) + sorted(extra_dir.glob("*.yml"))
    raw = {path: _read_yaml(path) for path in files}
    bases = {str(data.get("name")): data for data in raw.values()}
    layouts = [
        parse_layout(_extended(d, bases, str(p), (str(d.get("name")),)), str(p))
        for p, d in raw.items()
    ]
    return {layout.name: layout for layout in layouts}
