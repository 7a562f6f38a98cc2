"""A draft layout for an export no layout reads yet, from its header and a sample of its rows.

`suggest_layout(path)` reads the first bytes of a `.csv`, `.csv.gz` or `.parquet` file and
returns a `Suggestion`: the draft as a mapping in the layout schema, and the remarks that go with
it, each naming a setting: `todos` for what it could not decide (a required field with no column,
two equally likely columns, an ambiguous date order, values to confirm), `notes` for what it
decided and why. Columns are mapped by name (synonyms in English, German, French, Spanish,
Italian, Portuguese and Dutch; rapidfuzz for near spellings) and checked against their values
(dates, money, whole numbers, repeated codes). `render_layout` writes the draft as commented YAML
with a `# TODO:` at each place to edit; `describe` is the summary the CLI prints.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import re
import textwrap
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import fuzz, process

from ecom_assets.layouts import CANONICAL_FIELDS, DEFAULT_NA_VALUES, REQUIRED_FIELDS
from ecom_assets.layouts.sniff import (
    AUTO,
    DateFormats,
    DecimalMark,
    detect_encoding,
    infer_date_formats,
    looks_like_date,
    read_number,
    sniff_decimal,
    sniff_delimiter,
)

SAMPLE_BYTES = 1024 * 1024
SAMPLE_ROWS = 5000
SETTING_ORDER = (
    "name",
    "encoding",
    "delimiter",
    "decimal",
    "thousands",
    "date_formats",
    "columns",
    "optional_columns",
    "constants",
    "revenue",
    "total_tolerance",
    "default_category",
    "na_values",
    "cancelled_order_prefix",
    "negative_quantity_is_return",
    "exclude_rows",
    "non_products",
    "line_key",
    "rows_repeat_per_payment",
    "fill_forward",
)
"""Every setting a draft may hold, in the order it is written."""

PRODUCT_FIELDS = ("product_id", "product_name")
CONFIDENT = 85.0
"""A name score from which a column is taken for a required field without asking."""
OPTIONAL_FROM = 80.0
"""A name score from which a column is taken for an optional field."""
CANDIDATE_FROM = 60.0
WEAK = 80.0
"""The score of a weak synonym ("Email" for a customer): enough for an optional field, asked
about for a required one."""
LINE_FIELDS = ("product_id", "product_name", "price", "quantity", "line_total")
"""Fields that vary by line, so never taken from a column given only on an order's first line."""
NAME_PREFIXES = ("lineitem ", "line item ")


def _synonyms(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s.strip().replace(" ", "") for s in text.split(",")))


STRONG_SYNONYMS: dict[str, tuple[str, ...]] = {
    "order_id": _synonyms(
        "order id, order number, order no, order nr, order num, order ref, order reference, "
        "order, invoice, invoice no, invoice number, invoice id, invoice nr, transaction id, "
        "sales order, bestellnummer, bestellung, bestell nr, bestell id, auftragsnummer, auftrag, "
        "auftrags nr, rechnungsnummer, belegnummer, beleg nr, numero de commande, n de commande, "
        "no de commande, num commande, numero commande, commande, id commande, "
        "reference commande, ref commande, numero de facture, pedido, numero de pedido, "
        "num pedido, n pedido, no pedido, id pedido, id del pedido, numero pedido, orden, "
        "numero de orden, ordine, numero ordine, numero d ordine, n ordine, id ordine, "
        "codice ordine, numero do pedido, id do pedido, codigo do pedido, codigo pedido, "
        "bestelnummer, bestelling, bestelling id, ordernummer, order nummer, factuurnummer"
    ),
    "order_date": _synonyms(
        "order date, date, order datetime, order time, order timestamp, ordered at, "
        "purchase date, purchase timestamp, order purchase timestamp, created at, created, "
        "creation date, date created, order created, invoice date, transaction date, sale date, "
        "placed at, datum, bestelldatum, bestellzeitpunkt, auftragsdatum, rechnungsdatum, "
        "belegdatum, date de commande, date commande, date de la commande, date de facture, "
        "fecha, fecha de pedido, fecha pedido, fecha del pedido, fecha de compra, data, "
        "data ordine, data dell ordine, data do pedido, data pedido, data da compra, "
        "data de compra, besteldatum, orderdatum, factuurdatum"
    ),
    "quantity": _synonyms(
        "quantity, qty, quantity ordered, ordered quantity, units, unit count, units sold, "
        "pieces, pcs, menge, anzahl, stuckzahl, stueckzahl, stuck, bestellmenge, quantite, qte, "
        "quantite commandee, nombre, cantidad, cant, unidades, quantita, qta, quantidade, qtd, "
        "qtde, aantal, hoeveelheid, stuks"
    ),
    "price": _synonyms(
        "price, unit price, price each, item price, sale price, selling price, price per unit, "
        "preis, einzelpreis, stuckpreis, stueckpreis, verkaufspreis, vk preis, prix, "
        "prix unitaire, prix unit, pu, precio, precio unitario, precio unidad, prezzo, "
        "prezzo unitario, preco, preco unitario, valor unitario, prijs, stukprijs, "
        "eenheidsprijs"
    ),
    "line_total": _synonyms(
        "line total, total, total price, total amount, amount, sales, revenue, line amount, "
        "subtotal, net amount, gross amount, sales amount, gesamt, gesamtpreis, gesamtbetrag, "
        "betrag, summe, umsatz, positionssumme, total ligne, montant, montant total, prix total, "
        "chiffre d affaires, importe, importe total, total linea, ventas, totale, importo, "
        "prezzo totale, valor total, valor, totaal, bedrag, totaalprijs, omzet, regeltotaal"
    ),
    "product_id": _synonyms(
        "product id, product code, product no, product number, sku, item id, item code, "
        "article number, article no, article id, stock code, ean, gtin, upc, asin, variant sku, "
        "artikelnummer, artikel nr, art nr, artikel id, produktnummer, produkt id, produkt nr, "
        "reference, ref, reference produit, ref produit, code article, code produit, "
        "id produit, codigo producto, codigo de producto, codigo articulo, referencia, "
        "id producto, codice articolo, codice prodotto, id prodotto, codigo do produto, "
        "id produto, id do produto, referencia do produto, artikelcode, product nummer, "
        "productnummer"
    ),
    "product_name": _synonyms(
        "product name, product, item, item name, product title, title, description, "
        "lineitem name, article, "
        "article name, item description, product description, artikel, artikelname, "
        "artikelbezeichnung, bezeichnung, produkt, produktname, produktbezeichnung, "
        "beschreibung, produit, nom du produit, nom produit, designation, libelle, "
        "libelle produit, producto, nombre del producto, nombre producto, nombre de producto, "
        "articulo, descripcion, prodotto, nome prodotto, articolo, descrizione, produto, "
        "nome do produto, nome produto, descricao, product naam, omschrijving, artikel naam"
    ),
    "category": _synonyms(
        "category, product category, category name, product category name, product type, "
        "product line, product group, department, kategorie, warengruppe, produktgruppe, "
        "produktkategorie, artikelgruppe, categorie, categorie produit, famille, categoria, "
        "categoria producto, categoria de producto, categoria prodotto, categoria do produto, "
        "productgroep, productcategorie"
    ),
    "customer_id": _synonyms(
        "customer id, customer, customer no, customer number, customer nr, customer code, "
        "client id, client, client number, buyer id, user id, account id, customer unique id, "
        "kunde, kundennummer, kunden nr, kunden id, numero client, id client, code client, "
        "n client, cliente, id cliente, numero de cliente, codigo cliente, codigo de cliente, "
        "id do cliente, codice cliente, klant, klantnummer, klant id, klantnr"
    ),
    "city": _synonyms(
        "city, town, shipping city, ship city, customer city, delivery city, stadt, ort, "
        "lieferort, ville, ville de livraison, ciudad, localidad, citta, cidade, "
        "cidade do cliente, stad, plaats, woonplaats"
    ),
    "rating": _synonyms(
        "rating, review score, stars, score, star rating, bewertung, sterne, note, evaluation, "
        "valoracion, puntuacion, valutazione, avaliacao, nota, beoordeling, waardering"
    ),
    "reviews": _synonyms(
        "reviews, review count, number of reviews, num reviews, bewertungen, "
        "anzahl bewertungen, avis, nombre d avis, resenas, recensioni, avaliacoes"
    ),
    "payment_method": _synonyms(
        "payment method, payment type, payment, payment gateway, payment mode, zahlungsart, "
        "zahlungsmethode, zahlweise, mode de paiement, moyen de paiement, methode de paiement, "
        "metodo de pago, forma de pago, metodo di pagamento, modalita di pagamento, "
        "forma de pagamento, tipo de pagamento, metodo de pagamento, betaalmethode, betaalwijze"
    ),
}
WEAK_SYNONYMS: dict[str, tuple[str, ...]] = {
    "order_id": _synonyms("name"),
    "order_date": _synonyms("timestamp, time, datetime, date time, paid at, zeitstempel"),
    "product_name": _synonyms("name"),
    "category": _synonyms("type, group, family, gruppe"),
    "customer_id": _synonyms(
        "email, e mail, customer email, customer name, buyer, billing name, kundenname, "
        "nom du client, nombre del cliente, nome cliente, nome do cliente, klantnaam"
    ),
    "city": _synonyms("billing city, bill city, rechnungsort"),
}
ITEM_NUMBER_SYNONYMS = _synonyms(
    "order item id, order item, line number, line no, line nr, line id, order line, "
    "order line number, line, position, pos, pos nr, positionsnummer, position nr, item seq, "
    "item sequence, line item id, numero de ligne, ligne, numero de linea, linea, riga, "
    "numero riga, item do pedido, regelnummer, orderregel, regel"
)
STATUS_NAME = re.compile(r"status|statut|stato|estado|situacao")
CANCELLED_VALUE = re.compile(
    r"cancel|refund|void|storn|annul|anulad|rimbors|reembols|rembours|erstatt|geannuleerd|"
    r"terugbetaald|chargeback",
    re.IGNORECASE,
)
PAYMENT_NAME = re.compile(r"payment|zahlung|paiement|pago|pagamento|betaling|installment")
NON_PRODUCT_NAME = re.compile(
    r"\b(postage|carriage|bank charges?|gift vouchers?|vouchers?|gift cards?|"
    r"shipping (fee|charge|cost)s?|versandkosten|porto|frais de port|gastos de envio|"
    r"spese di spedizione|frete|verzendkosten)\b|^(manual|discount|samples?|adjust bad debt)$",
    re.IGNORECASE,
)
ROW_NUMBER_NAME = re.compile(r"^(id|nr|no|n|#)$|\b(row|index|idx|lfd|zeile|fila|riga|linha|rij)\b")
_CODE = re.compile(r"[#A-Za-z0-9][\w\-./#:@+]{0,63}")


class SuggestError(ValueError):
    """A file no draft can be suggested for; the message names the file and the problem."""

    def __init__(self, file: str, problem: str) -> None:
        super().__init__(f"{file}: {problem}")
        self.file = file
        self.problem = problem


@dataclass(frozen=True)
class Remark:
    """One sentence about a draft, attached to the setting it concerns (`columns.quantity`,
    `date_formats`, `exclude_rows`, ...)."""

    setting: str
    text: str


@dataclass(frozen=True)
class Suggestion:
    """A draft layout for one export.

    `layout` is the draft in the layout schema (keys in `SETTING_ORDER`), `todos` what it could
    not decide and the edit each needs, `notes` what it decided on the sample's evidence,
    `unused` the columns it maps to nothing, `source` the file it was made from.
    """

    source: str
    layout: dict[str, Any]
    todos: tuple[Remark, ...]
    notes: tuple[Remark, ...]
    unused: tuple[str, ...]

    @property
    def decided(self) -> bool:
        """Whether everything required was decided (nothing to edit before a first run)."""
        return not self.todos


@dataclass(frozen=True)
class Sample:
    """The header and the first complete rows of an export, as text."""

    header: list[str]
    rows: list[list[str]]
    encoding: str | None
    delimiter: str | None
    whole_file: bool
    ascii_only: bool


@dataclass(eq=False)
class _Column:
    """One column of the sample: its values (None where missing) and what they look like."""

    index: int
    name: str
    values: list[str | None]
    present: list[str] = field(default_factory=list)
    dates: DateFormats | None = None
    numbers: list[float] | None = None
    is_integer: bool = False
    is_fraction: bool = False
    is_code: bool = False
    is_text: bool = False
    distinct: int = 0

    @property
    def empty(self) -> bool:
        return not self.present


def normalise_name(name: str) -> str:
    """A column name as synonyms are compared: byte-order mark and accents dropped, camelCase
    split ("OrderID" -> "order id"), lower case, anything but letters and digits a space."""
    name = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name.replace("\ufeff", "").strip())
    name = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return " ".join(re.findall(r"[a-z0-9]+", name.casefold()))


def _compact_forms(name: str) -> list[tuple[str, bool]]:
    words = normalise_name(name)
    forms = [(words.replace(" ", ""), False)]
    forms += [
        (words[len(prefix) :].replace(" ", ""), True)
        for prefix in NAME_PREFIXES
        if words.startswith(prefix)
    ]
    return forms


def _synonym_score(column: str, strong: Sequence[str], weak: Sequence[str]) -> float:
    best = 0.0
    for compact, stripped in _compact_forms(column):
        if not compact:
            continue
        penalty = 5.0 if stripped else 0.0
        if compact in strong:
            best = max(best, 100.0 - penalty)
            continue
        if compact in weak:
            best = max(best, WEAK - penalty)
        near = process.extractOne(compact, strong, scorer=fuzz.ratio, score_cutoff=88)
        if near is not None and len(compact) >= 5:
            best = max(best, float(near[1]) - 10.0 - penalty)
        contained = [s for s in strong if len(s) >= 4 and s in compact]
        if contained:
            longest = max(map(len, contained))
            best = max(best, 55.0 + 30.0 * longest / len(compact) - penalty)
    return best


def name_score(column: str, canonical_field: str) -> float:
    """How well a column name says `canonical_field`, 0 to 100: 100 for a synonym, 95 for one
    behind a "Lineitem" prefix, about 80-90 for a near spelling, 60-85 for a name holding a
    synonym ("QUANTITYORDERED"), `WEAK` for a weak synonym ("Email" for a customer)."""
    return _synonym_score(
        column, STRONG_SYNONYMS[canonical_field], WEAK_SYNONYMS.get(canonical_field, ())
    )


def layout_name(path: Path) -> str:
    """A layout name from an export's file name: `Orders Export.csv.gz` -> `orders_export`."""
    stem = path.name
    for suffix in (".gz", ".csv", ".tsv", ".txt", ".parquet"):
        stem = stem.removesuffix(suffix)
    slug = "_".join(re.findall(r"[a-z0-9]+", normalise_name(stem)))
    return slug or "my_shop"


def _decode_prefix(data: bytes, encoding: str) -> str:
    return codecs.getincrementaldecoder(encoding)().decode(data, final=False)


def _head_bytes(path: Path, name: str) -> tuple[bytes, bool]:
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as file:
                data = file.read(SAMPLE_BYTES + 1)
        else:
            with path.open("rb") as file:
                data = file.read(SAMPLE_BYTES + 1)
    except (OSError, EOFError) as error:
        raise SuggestError(name, f"not a readable file ({error})") from error
    return data[:SAMPLE_BYTES], len(data) <= SAMPLE_BYTES


def _parquet_sample(path: Path, name: str) -> Sample:
    import polars as pl

    try:
        frame = pl.scan_parquet(path).head(SAMPLE_ROWS).collect()
    except Exception as error:
        raise SuggestError(name, f"not a readable Parquet file ({error})") from error
    text = frame.select(pl.all().cast(pl.String))
    rows = [["" if v is None else v for v in row] for row in text.iter_rows()]
    return Sample(list(frame.columns), rows, None, None, True, True)


def read_sample(path: Path) -> Sample:
    """The header and up to `SAMPLE_ROWS` complete rows from the first `SAMPLE_BYTES` of an
    export (`.parquet`: its first rows as text). Raises SuggestError naming the file when it is
    missing, empty, binary, not text in any encoding, or not delimited."""
    name = str(path)
    if not path.is_file():
        raise SuggestError(name, "no such file")
    if path.name.endswith(".parquet"):
        return _parquet_sample(path, name)
    head, whole = _head_bytes(path, name)
    if not head.strip():
        raise SuggestError(name, "the file is empty")
    if b"\x00" in head:
        raise SuggestError(name, "not a CSV text file (it contains binary data)")
    try:
        encoding = detect_encoding(head)
        text = _decode_prefix(head, encoding)
    except (ValueError, LookupError) as error:
        raise SuggestError(name, f"not text in any known encoding ({error})") from error
    if not whole:
        text = text[: max(text.rfind("\n"), 0)]
    try:
        delimiter = sniff_delimiter(text)
    except ValueError as error:
        raise SuggestError(name, str(error)) from error
    records = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if any(r)]
    header = [h.replace("\ufeff", "").strip() for h in records[0]]
    width = len(header)
    rows = [(r + [""] * width)[:width] for r in records[1 : SAMPLE_ROWS + 1]]
    return Sample(header, rows, encoding, delimiter, whole, head.isascii())


def _missing(value: str) -> bool:
    return value.strip() in DEFAULT_NA_VALUES


def _profiles(sample: Sample) -> tuple[list[_Column], DecimalMark]:
    columns = []
    for index, name in enumerate(sample.header):
        values = [None if _missing(row[index]) else row[index].strip() for row in sample.rows]
        present = [v for v in values if v is not None]
        column = _Column(index, name, values, present, distinct=len(set(present)))
        if present and sum(map(looks_like_date, present)) >= 0.9 * len(present):
            dates = infer_date_formats(present)
            column.dates = dates if dates.formats and not dates.unparsed else None
        columns.append(column)
    money_like = [
        v
        for c in columns
        if c.dates is None and c.present
        for v in c.present
        if read_number(v) is not None
    ]
    decimal = sniff_decimal(money_like)
    mark = decimal.decimal or "."
    for column in columns:
        present = column.present
        if not present or column.dates is not None:
            continue
        numbers = [read_number(v, mark, decimal.thousands) for v in present]
        if all(n is not None for n in numbers):
            column.numbers = [n for n in numbers if n is not None]
            column.is_fraction = any(n != int(n) for n in column.numbers) or any(
                mark in v for v in present
            )
            column.is_integer = all(n == int(n) for n in column.numbers)
        codes = sum(_CODE.fullmatch(v) is not None for v in present)
        column.is_code = codes >= 0.98 * len(present) and not column.is_fraction
        column.is_text = sum(any(ch.isalpha() for ch in v) for v in present) >= 0.5 * len(present)
    return columns, decimal


def _many_distinct(column: _Column) -> bool:
    return column.distinct > 5 or column.distinct >= 0.3 * len(column.present)


def _fits(column: _Column, canonical_field: str) -> bool:
    """Whether a column's sampled values can be the canonical field's."""
    if column.empty:
        return True
    if canonical_field == "order_date":
        return column.dates is not None
    if column.dates is not None:
        return False
    if canonical_field == "order_id":
        complete = len(column.present) == len(column.values)
        return column.is_code and complete and _many_distinct(column)
    if canonical_field == "product_id":
        return column.is_code
    if canonical_field in ("price", "line_total", "rating"):
        return column.numbers is not None
    if canonical_field in ("quantity", "reviews"):
        return column.is_integer
    if canonical_field == "customer_id":
        return not column.is_fraction
    return column.is_text and column.numbers is None


@dataclass
class _Draft:
    columns: list[_Column]
    mapping: dict[str, _Column] = field(default_factory=dict)
    todos: list[Remark] = field(default_factory=list)
    notes: list[Remark] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)

    def todo(self, setting: str, text: str) -> None:
        self.todos.append(Remark(setting, text))

    def note(self, setting: str, text: str) -> None:
        self.notes.append(Remark(setting, text))

    def free(self) -> list[_Column]:
        taken = {c.index for c in self.mapping.values()}
        return [c for c in self.columns if c.index not in taken and c.name]


def _value_backed(column: _Column, canonical: str, score: float) -> float:
    """A weak name score raised to `CONFIDENT` when the values say the field themselves: order
    numbers written "#1001" (Shopify's `Name`)."""
    numbered = all(re.fullmatch(r"#\d+", v) for v in column.present)
    if canonical == "order_id" and column.present and score >= WEAK and numbered:
        return max(score, CONFIDENT)
    return score


def _map_by_name(draft: _Draft, order_level: set[int]) -> None:
    scored = [
        (_value_backed(column, canonical, name_score(column.name, canonical)), canonical, column)
        for canonical in CANONICAL_FIELDS
        for column in draft.columns
        if column.name and _fits(column, canonical)
        if not (canonical in LINE_FIELDS and column.index in order_level)
    ]
    scored = [s for s in scored if s[0] >= CANDIDATE_FROM]
    required = (*REQUIRED_FIELDS, *PRODUCT_FIELDS, "price", "line_total")
    scored.sort(key=lambda s: (-s[0], s[1] not in required, s[2].index))
    for score, canonical, column in scored:
        threshold = CANDIDATE_FROM if canonical in required else OPTIONAL_FROM
        if canonical in draft.mapping or column in draft.mapping.values() or score < threshold:
            continue
        rivals = [
            c.name
            for s, f, c in scored
            if f == canonical and c is not column and s >= score - 1
            if c not in draft.mapping.values()
        ]
        draft.mapping[canonical] = column
        if rivals and canonical in required:
            draft.todo(
                f"columns.{canonical}",
                f"{canonical}: {column.name!r} and {', '.join(map(repr, rivals))} are equally "
                f"likely; the draft uses {column.name!r}: put the right column after "
                f"`{canonical}:`.",
            )
        elif rivals:
            draft.note(
                f"optional_columns.{canonical}",
                f"{canonical}: {column.name!r} taken; {', '.join(map(repr, rivals))} would do too.",
            )
        elif score < CONFIDENT and canonical in required:
            draft.todo(
                f"columns.{canonical}",
                f"{canonical}: no column is named like it; the draft guesses {column.name!r} "
                f"from its name and values: check it, or put the right column after "
                f"`{canonical}:`.",
            )


def _adjacent_repeats(column: _Column) -> float:
    values = column.values
    same = sum(1 for a, b in pairwise(values) if a is not None and a == b)
    return same / max(len(values) - 1, 1)


def _guess(draft: _Draft, canonical: str, candidates: list[_Column], what: str) -> None:
    if not candidates:
        draft.todo(
            f"columns.{canonical}",
            f"{canonical}: no column is named like it or holds {what}: write the column that "
            f"holds it in place of <column> and remove the `#`.",
        )
        return
    chosen = candidates[0]
    draft.mapping[canonical] = chosen
    others = f" ({', '.join(repr(c.name) for c in candidates[1:4])} would fit too)"
    draft.todo(
        f"columns.{canonical}",
        f"{canonical}: no column is named like it; the draft uses {chosen.name!r}, which holds "
        f"{what}{others if len(candidates) > 1 else ''}: check it, or put the right column "
        f"after `{canonical}:`.",
    )


def _map_by_values(draft: _Draft, item_column: _Column | None) -> None:
    free = [c for c in draft.free() if c is not item_column and not c.empty]
    if "order_date" not in draft.mapping:
        _guess(draft, "order_date", [c for c in free if c.dates is not None], "dates")
    if "order_id" not in draft.mapping:
        codes = [c for c in draft.free() if _fits(c, "order_id") and not c.empty]
        codes.sort(key=lambda c: -_adjacent_repeats(c))
        _guess(draft, "order_id", [c for c in codes if _adjacent_repeats(c) > 0], "repeated codes")
    if not any(f in draft.mapping for f in PRODUCT_FIELDS):
        codes = [c for c in draft.free() if _fits(c, "product_id") and not c.empty]
        codes = [c for c in codes if c.distinct < len(c.present) and c is not item_column]
        if codes:
            _guess(draft, "product_id", codes, "repeated codes")
        else:
            texts = sorted(
                (c for c in draft.free() if _fits(c, "product_name") and not c.empty),
                key=lambda c: -c.distinct,
            )
            _guess(draft, "product_name", texts, "names")
    if "quantity" not in draft.mapping:
        draft.constants["quantity"] = 1
        counts = [
            c.name
            for c in draft.free()
            if c.is_integer
            and not c.is_fraction
            and c is not item_column
            and not PAYMENT_NAME.search(normalise_name(c.name))
            and not re.search(
                r"\b(id|nr|no|number|code|zip|postal|year|month|day|qtr|phone)\b",
                normalise_name(c.name),
            )
        ]
        if counts:
            draft.todo(
                "constants",
                f"quantity: no column is named like a quantity; the draft counts one unit per "
                f"row (constants: quantity: 1). If {', '.join(map(repr, counts))} holds the "
                f"units sold, map it under `columns:` as `quantity:` and delete `constants:`.",
            )
        else:
            draft.note(
                "constants",
                "No quantity column: each row is taken as one unit (constants: quantity: 1).",
            )
    if "price" not in draft.mapping and "line_total" not in draft.mapping:
        money = [c for c in draft.free() if c.is_fraction and c is not item_column]
        _guess(draft, "price", money, "amounts with decimals")


def _item_column(draft: _Draft) -> _Column | None:
    """A column numbering the lines of an order (order_item_id, ORDERLINENUMBER, Position)."""
    for column in draft.free():
        if column.is_integer and _synonym_score(column.name, ITEM_NUMBER_SYNONYMS, ()) >= CONFIDENT:
            return column
    return None


def _order_level(columns: list[_Column], order: _Column | None) -> set[int]:
    """Indexes of columns given only on an order's first line, blank on its later lines."""
    if order is None:
        return set()
    lines: dict[str, list[int]] = defaultdict(list)
    for row, key in enumerate(order.values):
        if key is not None:
            lines[key].append(row)
    multi = [rows for rows in lines.values() if len(rows) > 1]
    if len(multi) < 2:
        return set()
    found = set()
    for column in columns:
        if column is order or column.empty:
            continue
        first_only = sum(
            column.values[rows[0]] is not None and all(column.values[r] is None for r in rows[1:])
            for rows in multi
        )
        if first_only >= 0.8 * len(multi):
            found.add(column.index)
    return found


def _key_name(draft: _Draft, column: _Column) -> str:
    fields = [f for f, c in draft.mapping.items() if c is column]
    return fields[0] if fields else column.name


def _line_key(draft: _Draft, item_column: _Column | None, rows: list[list[str]]) -> None:
    order = draft.mapping.get("order_id")
    if order is None:
        return
    if item_column is not None:
        key = [order, item_column]
    else:
        product = draft.mapping.get("product_id") or draft.mapping.get("product_name")
        key = [order] + ([product] if product else [])
    extras = [draft.mapping.get(f) for f in ("quantity", "price", "line_total")]
    numbering = [
        c
        for c in draft.free()
        if c.is_integer
        and c.distinct == len(c.values)
        and ROW_NUMBER_NAME.search(normalise_name(c.name) or "#")
    ]
    blank = {c.index for c in numbering}
    distinct = list(
        dict.fromkeys(tuple("" if i in blank else v for i, v in enumerate(row)) for row in rows)
    )
    payment = {c.index for c in draft.columns if PAYMENT_NAME.search(normalise_name(c.name))}

    def clashes(columns: list[_Column]) -> set[int]:
        groups: dict[tuple[str, ...], list[tuple[str, ...]]] = defaultdict(list)
        for row in distinct:
            groups[tuple(row[c.index] for c in columns)].append(row)
        differing: set[int] = set()
        for group in groups.values():
            if len(group) > 1:
                differing |= {i for i in range(len(group[0])) if len({r[i] for r in group}) > 1}
        return differing

    differing = clashes(key)
    if differing and differing <= payment:
        draft.settings["rows_repeat_per_payment"] = True
        draft.note(
            "rows_repeat_per_payment",
            "Lines repeat once per payment (they differ only in "
            f"{', '.join(draft.columns[i].name for i in sorted(differing))}): collapsed.",
        )
        differing = set()
    if differing and item_column is None:
        key += [extra for extra in extras if extra is not None and extra not in key]
        differing = clashes(key)
    names = [_key_name(draft, c) for c in key]
    draft.settings["line_key"] = names
    if differing:
        draft.todo(
            "line_key",
            f"line_key: some sampled lines share {', '.join(names)} but differ in "
            f"{', '.join(draft.columns[i].name for i in sorted(differing))}; add the column that "
            "tells one line from another to the list.",
        )


def _revenue(draft: _Draft) -> None:
    total = draft.mapping.get("line_total")
    price, quantity = draft.mapping.get("price"), draft.mapping.get("quantity")
    if price is None:
        draft.settings["revenue"] = "line_total" if total is not None else "price_times_quantity"
        return
    draft.settings["revenue"] = "price_times_quantity"
    if total is None or quantity is None:
        return
    triples = [
        (p, q, t)
        for p, q, t in zip(price.values, quantity.values, total.values, strict=True)
        if p is not None and q is not None and t is not None
    ]
    mark = draft.settings.get("decimal", ".")
    mark = mark if mark in (".", ",") else "."
    thousands = str(draft.settings.get("thousands", ""))
    agree = 0
    for p, q, t in triples:
        pn, qn, tn = (read_number(v, mark, thousands) for v in (p, q, t))
        if pn is not None and qn is not None and tn is not None:
            agree += abs(pn * qn - tn) <= max(0.011, 0.005 * abs(tn))
    if triples and agree < 0.95 * len(triples):
        draft.settings["revenue"] = "line_total"
        draft.todo(
            "revenue",
            f"revenue: {total.name!r} differs from {price.name!r} x {quantity.name!r} on "
            f"{len(triples) - agree} of {len(triples)} sampled lines; the draft takes revenue "
            f"from {total.name!r} (line_total). If {total.name!r} includes tax or shipping, "
            "write `revenue: price_times_quantity` instead.",
        )


def _exclusions(draft: _Draft, order_level: set[int]) -> list[_Column]:
    used = []
    rules = []
    for column in draft.free():
        if not STATUS_NAME.search(normalise_name(column.name)) or not 0 < column.distinct <= 30:
            continue
        values = list(Counter(column.present))
        cancelled = [v for v in values if CANCELLED_VALUE.search(v) and "partial" not in v.lower()]
        if not cancelled:
            draft.note(
                "exclude_rows",
                f"{column.name!r} holds {', '.join(values)}; none looks like a cancellation, "
                "so no rows are excluded by it.",
            )
            continue
        rules.append({"column": column.name, "in": cancelled})
        used.append(column)
        where = " (given on each order's first line)" if column.index in order_level else ""
        draft.todo(
            "exclude_rows",
            f"exclude_rows: {column.name!r}{where} holds {', '.join(values)} in the sample; the "
            f"draft excludes {', '.join(cancelled)} (sales that did not happen): add or remove "
            "values in its `in:` list to match what your shop means by them.",
        )
    if rules:
        draft.settings["exclude_rows"] = rules
    return used


def _returns_and_non_products(draft: _Draft) -> None:
    order = draft.mapping.get("order_id")
    if order is not None and order.present:
        plain = sum(v.isdigit() for v in order.present)
        prefixed = Counter(
            m.group(1) for v in order.present if (m := re.fullmatch(r"([A-Za-z]{1,2})\d+", v))
        )
        if plain >= 0.5 * len(order.present) and "C" in prefixed:
            draft.settings["cancelled_order_prefix"] = "C"
            draft.note(
                "cancelled_order_prefix",
                f"{prefixed['C']} sampled {order.name!r} values are digits behind a 'C' "
                "(cancellation invoices): orders starting with C are cancellations.",
            )
    quantity = draft.mapping.get("quantity")
    if quantity is not None and quantity.numbers and min(quantity.numbers) < 0:
        draft.settings["negative_quantity_is_return"] = True
        draft.note(
            "negative_quantity_is_return",
            f"{quantity.name!r} has negative values: they are taken as returns.",
        )
    product = draft.mapping.get("product_id")
    if product is None or not product.present:
        return
    names = draft.mapping.get("product_name")
    codes = Counter(product.present)
    with_digits = sum(any(ch.isdigit() for ch in code) for code in codes)
    odd = {code for code in codes if not any(ch.isdigit() for ch in code)}
    if with_digits < 0.9 * len(codes):
        odd = set()
    if names is not None:
        odd |= {
            code
            for code, name in zip(product.values, names.values, strict=True)
            if code is not None and name is not None and NON_PRODUCT_NAME.search(name)
        }
    if odd:
        listed = sorted(odd, key=lambda code: (-codes[code], code))[:20]
        draft.settings["non_products"] = {"codes": listed}
        draft.todo(
            "non_products",
            f"non_products: product ids {', '.join(listed)} look like postage, fees or "
            "adjustments rather than products (no digits where the others have them, or a "
            "name like POSTAGE); the draft lists them as not products: delete any that is a "
            "real product from `codes:` and add any the sample missed.",
        )


def _reading(draft: _Draft, sample: Sample, decimal: DecimalMark) -> None:
    if sample.encoding is None:
        return
    if sample.ascii_only and not sample.whole_file:
        draft.settings["encoding"] = AUTO
        draft.note(
            "encoding",
            f"The first {SAMPLE_BYTES // 1024} KiB are plain ASCII, so the encoding is told "
            "per file (auto).",
        )
    else:
        draft.settings["encoding"] = sample.encoding
    draft.settings["delimiter"] = sample.delimiter
    if decimal.decimal is not None:
        draft.settings["decimal"] = decimal.decimal
        if decimal.thousands:
            draft.settings["thousands"] = decimal.thousands
        return
    draft.settings["decimal"] = AUTO
    if decimal.reason.startswith("values disagree"):
        draft.todo(
            "decimal",
            f'decimal: sampled numbers disagree ({decimal.reason}); write "." or "," for the '
            "mark your shop uses.",
        )
    else:
        draft.note("decimal", f"decimal: {decimal.reason}; told per file (auto).")


def _date_formats(draft: _Draft) -> None:
    column = draft.mapping.get("order_date")
    if column is None:
        return
    if column.dates is None:
        draft.todo(
            "date_formats",
            f"date_formats: {column.name!r} has no values in the sample; write the format of "
            'its dates, e.g. ["%Y-%m-%d"].',
        )
        return
    draft.settings["date_formats"] = list(column.dates.formats)
    if column.dates.ambiguous:
        day_first = [f for f in column.dates.formats if f.startswith("%d")]
        month_first = [f for f in column.dates.formats if f.startswith("%m")]
        draft.todo(
            "date_formats",
            f"date_formats: every sampled {column.name!r} has day and month both 12 or below, "
            f"so the sample cannot tell day-first ({', '.join(day_first)}) from month-first "
            f"({', '.join(month_first)}); both are listed and each file's own values decide: "
            "delete the ones your shop does not write.",
        )


def _build(draft: _Draft, name: str, fill_forward: list[str]) -> dict[str, Any]:
    required = [*REQUIRED_FIELDS, *PRODUCT_FIELDS]
    revenue = draft.settings.get("revenue", "price_times_quantity")
    required.append("price" if revenue == "price_times_quantity" else "line_total")
    ordered = sorted(draft.mapping.items(), key=lambda item: CANONICAL_FIELDS.index(item[0]))
    columns = {f: c.name for f, c in ordered if f in required}
    optional = {f: c.name for f, c in ordered if f not in required}
    values: dict[str, Any] = {
        **draft.settings,
        "name": name,
        "columns": columns,
        "optional_columns": optional,
        "constants": draft.constants,
        "fill_forward": fill_forward,
    }
    return {
        k: values[k]
        for k in SETTING_ORDER
        if k in values and (k == "columns" or values[k] not in (None, {}, []))
    }


def suggest_from_sample(sample: Sample, source: str, name: str) -> Suggestion:
    """A draft layout named `name` for the export whose header and rows are `sample`."""
    columns, decimal = _profiles(sample)
    first_pass = _Draft(columns)
    _map_by_name(first_pass, set())
    _map_by_values(first_pass, _item_column(first_pass))
    order_level = _order_level(columns, first_pass.mapping.get("order_id"))
    draft = _Draft(columns)
    _reading(draft, sample, decimal)
    _map_by_name(draft, order_level)
    item_column = _item_column(draft)
    _map_by_values(draft, item_column)
    if not sample.rows:
        draft.todo(
            "columns",
            "The file has a header but no rows: columns are mapped by name only; check each.",
        )
    order_totals = [
        repr(c.name)
        for c in columns
        if c.index in order_level and name_score(c.name, "line_total") >= OPTIONAL_FROM
    ]
    if order_totals:
        draft.note(
            "optional_columns",
            f"{', '.join(order_totals)}: given once per order (on its first line), so order "
            "totals, not line totals: not used.",
        )
    _revenue(draft)
    _line_key(draft, item_column, sample.rows)
    status_columns = _exclusions(draft, order_level)
    _returns_and_non_products(draft)
    _date_formats(draft)
    fill_forward = [
        field_name
        for field_name, column in sorted(
            draft.mapping.items(), key=lambda item: CANONICAL_FIELDS.index(item[0])
        )
        if column.index in order_level
    ] + [c.name for c in status_columns if c.index in order_level]
    for column in draft.free():
        if column.dates is not None and re.search(r"cancel", normalise_name(column.name)):
            draft.note(
                "exclude_rows",
                f"{column.name!r} holds a date on cancelled orders; this draft excludes none by "
                "it (add a status rule above if cancelled orders still show as sales).",
            )
    if fill_forward:
        draft.note(
            "fill_forward",
            f"{', '.join(fill_forward)} are given only on an order's first line: filled forward.",
        )
    used = {c.index for c in draft.mapping.values()} | {c.index for c in status_columns}
    if item_column is not None:
        used.add(item_column.index)
    unused = tuple(c.name for c in columns if c.index not in used)
    layout = _build(draft, name, fill_forward)
    return Suggestion(source, layout, tuple(draft.todos), tuple(draft.notes), unused)


def suggest_layout(path: Path, name: str | None = None) -> Suggestion:
    """A draft layout for the export at `path` (`.csv`, `.csv.gz` or `.parquet`) from its first
    bytes; named `name`, or after the file (see `layout_name`). Raises SuggestError naming the
    file when it cannot be read as a delimited text export or Parquet file."""
    return suggest_from_sample(read_sample(path), str(path), name or layout_name(path))


def _quoted(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _scalar(value: Any, in_list: bool = False) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    wrapped = f"k: [{text}]" if in_list else f"k: {text}"
    try:
        plain_ok = yaml.safe_load(wrapped) == {"k": [text] if in_list else text}
    except yaml.YAMLError:
        plain_ok = False
    return text if plain_ok and text == text.strip() and text else _quoted(text)


def _flow(values: Iterable[Any], quote: bool = False) -> str:
    return "[" + ", ".join(_quoted(v) if quote else _scalar(v, True) for v in values) + "]"


def _comment(text: str, indent: str, todo: bool) -> list[str]:
    prefix = f"{indent}# TODO: " if todo else f"{indent}# "
    follow = f"{indent}#   " if todo else f"{indent}# "
    return textwrap.wrap(text, 100, initial_indent=prefix, subsequent_indent=follow)


def render_layout(suggestion: Suggestion) -> str:
    """The draft as a YAML layout file: a header saying where it comes from and what to do,
    each setting with its notes above it and a `# TODO:` line at each place to edit; a required
    field with no column is a commented `# field: <column>` line under `columns:`."""
    layout = suggestion.layout
    remarks: dict[str, list[tuple[Remark, bool]]] = defaultdict(list)
    for remark in suggestion.notes:
        remarks[remark.setting].append((remark, False))
    for remark in suggestion.todos:
        remarks[remark.setting].append((remark, True))
    placed: set[str] = set()

    def place(setting: str, indent: str = "") -> list[str]:
        placed.add(setting)
        return [
            line for r, todo in remarks.get(setting, []) for line in _comment(r.text, indent, todo)
        ]

    body: list[str] = []
    for key in SETTING_ORDER:
        if key not in layout:
            continue
        value = layout[key]
        body += place(key)
        if key in ("columns", "optional_columns", "constants"):
            body.append(f"{key}:")
            for canonical, column in value.items():
                for block in ("columns", "optional_columns", "constants"):
                    body += place(f"{block}.{canonical}", "  ")
                body.append(f"  {canonical}: {_scalar(column)}")
            if key == "columns":
                given = {*value, *layout.get("constants", {})}
                for canonical in (*REQUIRED_FIELDS, *PRODUCT_FIELDS, "price"):
                    setting = f"columns.{canonical}"
                    if canonical not in given and setting in remarks:
                        body += place(setting, "  ")
                        body.append(f"  # {canonical}: <column>")
        elif key == "exclude_rows":
            body.append("exclude_rows:")
            for rule in value:
                body.append(f"  - column: {_scalar(rule['column'])}")
                body.append(f"    in: {_flow(rule['in'])}")
        elif key == "non_products":
            body.append("non_products:")
            body.append(f"  codes: {_flow(value['codes'])}")
        elif key == "date_formats":
            body.append(f"date_formats: {_flow(value, quote=True)}")
        elif isinstance(value, list):
            body.append(f"{key}: {_flow(value)}")
        elif key in ("delimiter", "decimal", "thousands"):
            body.append(f"{key}: {_quoted(value)}")
        else:
            body.append(f"{key}: {_scalar(value)}")
    source = Path(suggestion.source).name
    head = [
        f"# Draft layout suggested by `ecom layout suggest` from {source}.",
        "# Check it and edit every line marked TODO before the next run: a layout file that does",
        "# not parse stops every load.",
    ]
    if suggestion.unused:
        head += _comment(f"Columns not used: {', '.join(suggestion.unused)}.", "", False)
    for setting in remarks:
        if setting not in placed:
            head += place(setting)
    return "\n".join([*head, *body]) + "\n"


def describe(suggestion: Suggestion, target: Path) -> str:
    """What the CLI prints: where the draft went, how the file is read, the mapping, the notes
    and the numbered list of what could not be decided."""
    layout = suggestion.layout
    reading = [
        f"{key} {_quoted(layout[key]) if key != 'date_formats' else ', '.join(layout[key])}"
        for key in ("encoding", "delimiter", "decimal", "thousands", "date_formats")
        if key in layout
    ]
    lines = [f"wrote draft layout {layout['name']!r} to {target}"]
    if reading:
        lines.append("reads the file with " + "; ".join(reading))
    mapped = {**layout.get("columns", {}), **layout.get("optional_columns", {})}
    lines.append("columns:")
    lines += [f"  {canonical:<15} <- {column}" for canonical, column in mapped.items()]
    lines += [
        f"  {canonical:<15} =  {value}" for canonical, value in layout.get("constants", {}).items()
    ]
    if suggestion.unused:
        lines.append("not used: " + ", ".join(suggestion.unused))
    lines += [f"note: {remark.text}" for remark in suggestion.notes]
    if suggestion.todos:
        lines.append(f"could not decide ({len(suggestion.todos)}; each is a TODO in the file):")
        lines += [f"  {n}. {remark.text}" for n, remark in enumerate(suggestion.todos, start=1)]
    else:
        lines.append("everything required was decided; check the draft, then run the pipeline")
    return "\n".join(lines)
