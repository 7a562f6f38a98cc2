"""`ecom layout suggest`: decimal marks and date formats from sample values, a draft layout from
an export's header and rows (in several languages and shapes), the YAML it writes, the command
line, and drafts for the real exports that, edited as they ask, read those files."""

import gzip
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from ecom_assets.layouts import Layout, parse_layout
from ecom_assets.layouts.sniff import (
    detect_encoding,
    infer_date_formats,
    read_number,
    sniff_decimal,
    without_zone,
)
from ecom_assets.layouts.suggest import (
    SuggestError,
    Suggestion,
    layout_name,
    name_score,
    render_layout,
    suggest_layout,
)
from ecom_assets.transforms.bronze import read_export

ECOM = Path(sys.executable).parent / "ecom"
REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"
SCHEMA_KEYS = {
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
}


def parse_draft(draft: dict[str, Any]) -> Layout:
    """The whole draft through `parse_layout`: only settings of the documented schema."""
    assert set(draft) <= SCHEMA_KEYS
    return parse_layout(draft, "draft")


def suggest(tmp_path: Path, name: str, content: str | bytes) -> Suggestion:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return suggest_layout(path)


def todo_settings(suggestion: Suggestion) -> list[str]:
    return [todo.setting for todo in suggestion.todos]


# --- decimal marks and date formats -------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "decimal", "thousands"),
    [
        (["3,50", "1.234,50", "12"], ",", "."),
        (["3.50", "1,234.50", "12"], ".", ","),
        (["12,99 €", "EUR 7,5"], ",", ""),
        (["0,500"], ",", ""),
        (["41.9136", "957.5775"], ".", ""),
        (["1.234.567"], ",", "."),
    ],
)
def test_decimal_mark_is_told_by_money_values(values, decimal, thousands) -> None:
    mark = sniff_decimal(values)
    assert (mark.decimal, mark.thousands) == (decimal, thousands)


@pytest.mark.parametrize(
    ("values", "why"),
    [
        (["1,234", "12", "7"], "no value shows"),
        (["26.47.1555", "2125557818"], "no value shows"),
        (["abc", ""], "no value shows"),
        (["3,50", "3.50", "4.20"], "disagree"),
    ],
)
def test_decimal_mark_says_when_values_cannot_tell(values, why) -> None:
    mark = sniff_decimal(values)
    assert mark.decimal is None
    assert why in mark.reason


@pytest.mark.parametrize(
    ("value", "decimal", "thousands", "number"),
    [
        ("1.234,50 €", ",", ".", 1234.5),
        ("EUR 7,5", ",", "", 7.5),
        ("-3.50", ".", "", -3.5),
        ("1,234.50", ".", "", 1234.5),
        ("1 234,50", ",", "", 1234.5),
        ("abc", ".", "", None),
        ("12.", ".", "", None),
        ("1.2.3", ".", "", None),
    ],
)
def test_numbers_are_read_with_the_marks_given(value, decimal, thousands, number) -> None:
    assert read_number(value, decimal, thousands) == number


@pytest.mark.parametrize(
    ("values", "formats"),
    [
        (["11/8/2016", "6/12/2016", "10/11/2015", "11/22/2015"], ("%m/%d/%Y",)),
        (["24.02.2023", "1.3.2023"], ("%d.%m.%Y",)),
        (["15/03/2023 14:05", "1/4/2023 9:30"], ("%d/%m/%Y %H:%M",)),
        (["2/24/2003 0:00", "5/7/2003 0:00"], ("%m/%d/%Y %H:%M",)),
        (["2011-03-10 16:16:00", "2011-12-01 08:26:00"], ("%Y-%m-%d %H:%M:%S",)),
        (["2023-01-15 10:23:45 -0500", "2023-01-16 08:00:00 +05:30"], ("%Y-%m-%d %H:%M:%S",)),
        (["2026-08-04T05:24:22Z", "2026-08-05T00:00:01+0200"], ("%Y-%m-%d %H:%M:%S",)),
        (["2023-01-15", "2023-02-01"], ("%Y-%m-%d",)),
        (["15/03/2023 14:05", "15/03/2023", "16/03/2023"], ("%d/%m/%Y", "%d/%m/%Y %H:%M")),
        (["2023-01-15 10:23:45.000000"], ("%Y-%m-%d %H:%M:%S.%f",)),
    ],
)
def test_date_formats_that_read_every_value(values, formats) -> None:
    found = infer_date_formats(values)
    assert found.formats == formats
    assert not found.ambiguous
    assert found.unparsed == ()


def test_days_and_months_all_at_most_12_leave_the_order_ambiguous() -> None:
    found = infer_date_formats(["03/04/2023", "01/02/2023", "12/11/2023 10:00"])
    assert found.ambiguous
    assert found.formats == ("%d/%m/%Y", "%d/%m/%Y %H:%M", "%m/%d/%Y", "%m/%d/%Y %H:%M")


def test_a_day_above_12_in_either_place_settles_the_order() -> None:
    assert infer_date_formats(["03/04/2023", "13/04/2023"]).formats == ("%d/%m/%Y",)
    assert infer_date_formats(["03/04/2023", "04/13/2023"]).formats == ("%m/%d/%Y",)


def test_values_no_format_reads_are_reported() -> None:
    found = infer_date_formats(["2023-01-15", "2023-02-01", "soon"])
    assert found.formats == ("%Y-%m-%d",)
    assert found.unparsed == ("soon",)
    assert infer_date_formats(["", "  "]).formats == ()


@pytest.mark.parametrize(
    ("value", "read_as"),
    [
        ("2026-08-04 05:24:22 +0500", "2026-08-04 05:24:22"),
        ("2026-08-04T05:24:22Z", "2026-08-04 05:24:22"),
        ("2026-08-04T05:24:22.123+05:00", "2026-08-04 05:24:22.123"),
        ("15-01-2023", "15-01-2023"),
    ],
)
def test_zone_and_iso_t_are_dropped_before_matching(value, read_as) -> None:
    assert without_zone(value) == read_as


def test_windows_1252_wins_a_tie_with_cp1250() -> None:
    # The first MiB of superstore.csv rates the same in cp1250 ("ľ") and cp1252 ("¾").
    assert detect_encoding((REAL / "superstore.csv").read_bytes()[: 1024 * 1024]) == "cp1252"
    czech = "Příliš žluťoučký kůň úpěl ďábelské ódy".encode("cp1250")
    assert detect_encoding(czech) == "cp1250"


# --- column names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "canonical", "low", "high"),
    [
        ("Numéro de commande", "order_id", 100, 100),
        ("OrderID", "order_id", 100, 100),
        ("Bestellnumer", "order_id", 80, 90),
        ("Lineitem quantity", "quantity", 95, 95),
        ("QUANTITYORDERED", "quantity", 100, 100),
        ("Quantität", "quantity", 80, 90),
        ("shipping_limit_date", "order_date", 60, 70),
        ("Email", "customer_id", 80, 80),
        ("Postal Code", "product_id", 0, 0),
        ("Profit", "line_total", 0, 0),
    ],
)
def test_name_scores(column, canonical, low, high) -> None:
    assert low <= name_score(column, canonical) <= high


def test_layout_names_come_from_file_names() -> None:
    assert layout_name(Path("Orders Export 2024.csv.gz")) == "orders_export_2024"
    assert layout_name(Path("Bestellungen-März.csv")) == "bestellungen_marz"
    assert layout_name(Path("---.csv")) == "my_shop"


# --- drafts in several languages -----------------------------------------------------------------

ENGLISH = (
    "Order ID,Order Date,Customer ID,SKU,Product Name,Category,Unit Price,Quantity,Line Total,"
    "City\n"
    "A-1001,2024-03-01,C7,SKU-1,Blue Mug,Kitchen,12.50,2,25.00,Leeds\n"
    "A-1001,2024-03-01,C7,SKU-2,Red Mug,Kitchen,20.00,1,20.00,Leeds\n"
    "A-1002,2024-03-02,C9,SKU-1,Blue Mug,Kitchen,12.50,3,37.50,York\n"
    "A-1003,2024-03-15,C7,SKU-3,Tea Towel,Textiles,4.99,1,4.99,Leeds\n"
)


def test_english_export_is_mapped_and_decided(tmp_path) -> None:
    suggestion = suggest(tmp_path, "orders.csv", ENGLISH)
    layout = suggestion.layout
    assert layout["columns"] == {
        "order_id": "Order ID",
        "order_date": "Order Date",
        "product_id": "SKU",
        "product_name": "Product Name",
        "price": "Unit Price",
        "quantity": "Quantity",
    }
    assert layout["optional_columns"] == {
        "customer_id": "Customer ID",
        "category": "Category",
        "line_total": "Line Total",
        "city": "City",
    }
    assert (layout["encoding"], layout["delimiter"], layout["decimal"]) == ("utf-8", ",", ".")
    assert layout["date_formats"] == ["%Y-%m-%d"]
    assert layout["revenue"] == "price_times_quantity"
    assert layout["line_key"] == ["order_id", "product_id"]
    assert suggestion.decided, suggestion.todos
    assert parse_draft(layout).source_columns["price"] == "Unit Price"


def test_german_semicolons_decimal_commas_and_windows_1252(tmp_path) -> None:
    content = (
        "Bestellnummer;Bestelldatum;Kundennummer;Artikelnummer;Artikel;Warengruppe;Einzelpreis;"
        "Menge;Gesamtpreis\n"
        "10001;24.02.2023;K-17;A-100;Müsli Nuss;Frühstück;3,50;2;7,00\n"
        "10001;24.02.2023;K-17;A-200;Kaffeemaschine Größe L;Küche;1.234,50;1;1.234,50\n"
        "10002;1.3.2023;K-18;A-100;Müsli Nuss;Frühstück;3,50;4;14,00\n"
    ).encode("cp1252")
    suggestion = suggest(tmp_path, "bestellungen.csv", content)
    layout = suggestion.layout
    assert layout["columns"] == {
        "order_id": "Bestellnummer",
        "order_date": "Bestelldatum",
        "product_id": "Artikelnummer",
        "product_name": "Artikel",
        "price": "Einzelpreis",
        "quantity": "Menge",
    }
    assert layout["optional_columns"] == {
        "customer_id": "Kundennummer",
        "category": "Warengruppe",
        "line_total": "Gesamtpreis",
    }
    assert layout["encoding"] == "cp1252"
    assert (layout["delimiter"], layout["decimal"], layout["thousands"]) == (";", ",", ".")
    assert layout["date_formats"] == ["%d.%m.%Y"]
    assert layout["revenue"] == "price_times_quantity"
    assert suggestion.decided, suggestion.todos
    assert parse_draft(layout).thousands == "."


def test_french_tabs_and_utf8_with_bom(tmp_path) -> None:
    content = "\ufeff" + (
        "Numéro de commande\tDate de commande\tClient\tRéférence\tDésignation\tCatégorie\t"
        "Prix unitaire\tQuantité\tMontant\n"
        "F-1\t15/03/2023 14:05\tDupont\tREF-1\tCafé moulu\tÉpicerie\t4,20\t3\t12,60\n"
        "F-2\t2/04/2023 09:10\tMartin\tREF-2\tThé vert\tÉpicerie\t6,00\t1\t6,00\n"
    )
    suggestion = suggest(tmp_path, "commandes.tsv.csv", content)
    layout = suggestion.layout
    assert layout["columns"] == {
        "order_id": "Numéro de commande",
        "order_date": "Date de commande",
        "product_id": "Référence",
        "product_name": "Désignation",
        "price": "Prix unitaire",
        "quantity": "Quantité",
    }
    assert layout["optional_columns"] == {
        "customer_id": "Client",
        "category": "Catégorie",
        "line_total": "Montant",
    }
    assert (layout["encoding"], layout["delimiter"], layout["decimal"]) == ("utf-8-sig", "\t", ",")
    assert layout["date_formats"] == ["%d/%m/%Y %H:%M"]
    assert suggestion.decided, suggestion.todos


def test_spanish_pipes_with_ambiguous_dates(tmp_path) -> None:
    content = (
        "Número de pedido|Fecha|Cliente|Código producto|Producto|Categoría|Precio|Cantidad|"
        "Importe\n"
        "P-1|03/04/2023|Ana|C-1|Aceite de oliva|Despensa|8,95|2|17,90\n"
        "P-2|01/02/2023|Luis|C-2|Jamón|Charcutería|45,00|1|45,00\n"
        "P-3|12/11/2023|Ana|C-1|Aceite de oliva|Despensa|8,95|1|8,95\n"
    )
    suggestion = suggest(tmp_path, "pedidos.csv", content)
    layout = suggestion.layout
    assert layout["columns"] == {
        "order_id": "Número de pedido",
        "order_date": "Fecha",
        "product_id": "Código producto",
        "product_name": "Producto",
        "price": "Precio",
        "quantity": "Cantidad",
    }
    assert layout["optional_columns"]["line_total"] == "Importe"
    assert (layout["delimiter"], layout["decimal"]) == ("|", ",")
    assert layout["date_formats"] == ["%d/%m/%Y", "%m/%d/%Y"]
    assert todo_settings(suggestion) == ["date_formats"]
    assert "Fecha" in suggestion.todos[0].text
    assert "delete the ones your shop does not write" in suggestion.todos[0].text
    edited = {**layout, "date_formats": ["%d/%m/%Y"]}
    assert parse_draft(edited).date_formats == ("%d/%m/%Y",)


def test_portuguese_quoted_decimal_commas(tmp_path) -> None:
    content = (
        "Número do pedido,Data do pedido,Código do produto,Produto,Categoria,Preço,Quantidade,"
        "Cidade\n"
        'BR-77,2023-05-02,P-9,Café torrado,Mercearia,"12,50",2,Recife\n'
        'BR-78,2023-05-03,P-3,Açúcar,Mercearia,"4,10",5,Natal\n'
    )
    layout = suggest(tmp_path, "pedidos.csv", content).layout
    assert layout["columns"] == {
        "order_id": "Número do pedido",
        "order_date": "Data do pedido",
        "product_id": "Código do produto",
        "product_name": "Produto",
        "price": "Preço",
        "quantity": "Quantidade",
    }
    assert layout["optional_columns"] == {"category": "Categoria", "city": "Cidade"}
    assert (layout["delimiter"], layout["decimal"]) == (",", ",")


def test_dutch_and_italian_headers(tmp_path) -> None:
    dutch = (
        "Bestelnummer,Besteldatum,Klantnummer,Artikelnummer,Omschrijving,Categorie,Prijs,Aantal,"
        "Totaal\n"
        "NL-1,2023-06-01,K1,ART-1,Stroopwafels,Snoep,2.99,4,11.96\n"
        "NL-2,2023-06-02,K2,ART-2,Drop,Snoep,1.49,2,2.98\n"
    )
    layout = suggest(tmp_path, "bestellingen.csv", dutch).layout
    assert layout["columns"] == {
        "order_id": "Bestelnummer",
        "order_date": "Besteldatum",
        "product_id": "Artikelnummer",
        "product_name": "Omschrijving",
        "price": "Prijs",
        "quantity": "Aantal",
    }
    assert layout["optional_columns"] == {
        "customer_id": "Klantnummer",
        "category": "Categorie",
        "line_total": "Totaal",
    }
    italian = (
        "Numero ordine;Data;Cliente;Codice articolo;Prodotto;Categoria;Prezzo;Quantità;Totale\n"
        "IT-1;13/06/2023;Rossi;ART-1;Pasta di Gragnano;Dispensa;2,40;3;7,20\n"
    )
    layout = suggest(tmp_path, "ordini.csv", italian).layout
    assert layout["columns"] == {
        "order_id": "Numero ordine",
        "order_date": "Data",
        "product_id": "Codice articolo",
        "product_name": "Prodotto",
        "price": "Prezzo",
        "quantity": "Quantità",
    }
    assert layout["date_formats"] == ["%d/%m/%Y"]


# --- drafts for the kinds of export users have ---------------------------------------------------

OLIST_ITEMS = (
    "order_id,order_item_id,product_id,seller_id,shipping_limit_date,price,freight_value\n"
    "00010242fe8c5a6d,1,4244733e06e7ecb4,48436dade18ac8b2,2017-09-19 09:45:35,58.90,13.29\n"
    "00018f77f2f0320c,1,e5f2d52b802189ee,dd7ddc04e1b6c2c6,2017-05-03 11:05:13,239.90,19.93\n"
    "000229ec398224ef,1,c777355d18b72b67,5b51032eddd242ad,2018-01-18 14:48:30,199.00,17.87\n"
    "0008288aa423d2a3,1,368c6c730842d780,1f50f920176fa81d,2018-02-21 02:55:52,49.90,13.37\n"
    "0008288aa423d2a3,2,368c6c730842d780,1f50f920176fa81d,2018-02-21 02:55:52,49.90,13.37\n"
)


def test_marketplace_items_without_quantity_count_one_unit_per_row(tmp_path) -> None:
    suggestion = suggest(tmp_path, "order_items.csv", OLIST_ITEMS)
    layout = suggestion.layout
    assert layout["columns"] == {
        "order_id": "order_id",
        "order_date": "shipping_limit_date",
        "product_id": "product_id",
        "price": "price",
    }
    assert layout["constants"] == {"quantity": 1}
    assert layout["line_key"] == ["order_id", "order_item_id"]
    assert layout["date_formats"] == ["%Y-%m-%d %H:%M:%S"]
    assert any("one unit" in note.text for note in suggestion.notes)
    assert todo_settings(suggestion) == ["columns.order_date"]
    assert "shipping_limit_date" in suggestion.todos[0].text
    assert suggestion.unused == ("seller_id", "freight_value")


def test_marketplace_rows_repeated_per_payment_with_statuses(tmp_path) -> None:
    header = (
        "order_id,order_item_id,product_id,price,customer_id,order_status,"
        "order_purchase_timestamp,order_approved_at,product_category_name,payment_sequential,"
        "payment_type,payment_installments,payment_value,customer_city\n"
    )
    rows = [
        "e481f51c,1,87285b34,29.99,9ef432eb,delivered,2017-10-02 10:56:33,2017-10-02 11:07:15,"
        "utilidades_domesticas,1,credit_card,1,18.12,sao paulo",
        "e481f51c,1,87285b34,29.99,9ef432eb,delivered,2017-10-02 10:56:33,2017-10-02 11:07:15,"
        "utilidades_domesticas,2,voucher,1,18.59,sao paulo",
        "53cdb2fc,1,595fac2a,118.70,b0830fb4,delivered,2018-07-24 20:41:37,2018-07-26 03:24:27,"
        "perfumaria,1,boleto,1,141.46,barreiras",
        "ad21c59c,1,65266b2d,19.90,8ab97904,canceled,2018-02-13 21:18:39,2018-02-13 22:20:29,"
        "papelaria,1,credit_card,1,28.62,santo andre",
        "a4591c26,1,060cb193,147.90,503740e9,invoiced,2017-07-09 21:57:05,2017-07-09 22:10:13,"
        "automotivo,1,credit_card,6,175.26,congonhinhas",
        "a4591c26,2,060cb193,147.90,503740e9,invoiced,2017-07-09 21:57:05,2017-07-09 22:10:13,"
        "automotivo,1,credit_card,6,175.26,congonhinhas",
    ]
    suggestion = suggest(tmp_path, "olist.csv", header + "\n".join(rows) + "\n")
    layout = suggestion.layout
    assert layout["columns"] == {
        "order_id": "order_id",
        "order_date": "order_purchase_timestamp",
        "product_id": "product_id",
        "price": "price",
    }
    assert layout["optional_columns"] == {
        "customer_id": "customer_id",
        "category": "product_category_name",
        "payment_method": "payment_type",
        "city": "customer_city",
    }
    assert layout["constants"] == {"quantity": 1}
    assert layout["line_key"] == ["order_id", "order_item_id"]
    assert layout["rows_repeat_per_payment"] is True
    assert layout["exclude_rows"] == [{"column": "order_status", "in": ["canceled"]}]
    assert todo_settings(suggestion) == ["exclude_rows"]
    assert "delivered, canceled, invoiced" in suggestion.todos[0].text


SHOPIFY = (
    "Name,Email,Financial Status,Paid at,Fulfillment Status,Subtotal,Shipping,Total,Created at,"
    "Lineitem quantity,Lineitem name,Lineitem price,Lineitem compare at price,Lineitem sku,"
    "Billing City,Shipping City,Cancelled at,Payment Method,Id\n"
    "#1001,ann@example.com,paid,2023-01-15 10:25:00 -0500,fulfilled,45.00,5.00,50.00,"
    "2023-01-15 10:23:45 -0500,2,Blue Mug,12.50,,MUG-BL,Boston,Boston,,Shopify Payments,501\n"
    "#1001,ann@example.com,,,,,,,2023-01-15 10:23:45 -0500,1,Red Mug,20.00,,MUG-RD,,,,,\n"
    "#1002,bob@example.com,refunded,2023-01-16 09:00:00 -0500,fulfilled,30.00,5.00,35.00,"
    "2023-01-16 08:59:10 -0500,3,Tea Towel,10.00,12.00,TT-01,Denver,Denver,,PayPal,502\n"
    "#1003,cy@example.com,paid,2023-01-17 11:00:00 -0500,unfulfilled,32.50,0.00,32.50,"
    "2023-01-17 10:59:00 -0500,1,Blue Mug,12.50,,MUG-BL,Austin,Austin,,Shopify Payments,503\n"
    "#1003,cy@example.com,,,,,,,2023-01-17 10:59:00 -0500,1,Red Mug,20.00,,MUG-RD,,,,,\n"
    "#1004,di@example.com,voided,,unfulfilled,20.00,5.00,25.00,2023-01-18 12:00:00 -0500,1,"
    "Red Mug,20.00,,MUG-RD,Miami,Miami,2023-01-18 13:00:00 -0500,PayPal,504\n"
)


def test_shopify_order_fields_on_first_lines_are_filled_forward(tmp_path) -> None:
    suggestion = suggest(tmp_path, "orders_export.csv", SHOPIFY)
    layout = suggestion.layout
    assert layout["columns"] == {
        "order_id": "Name",
        "order_date": "Created at",
        "product_id": "Lineitem sku",
        "product_name": "Lineitem name",
        "price": "Lineitem price",
        "quantity": "Lineitem quantity",
    }
    assert layout["optional_columns"] == {
        "customer_id": "Email",
        "payment_method": "Payment Method",
        "city": "Shipping City",
    }
    assert layout["date_formats"] == ["%Y-%m-%d %H:%M:%S"]
    assert layout["revenue"] == "price_times_quantity"
    assert layout["fill_forward"] == ["payment_method", "city", "Financial Status"]
    assert layout["exclude_rows"] == [{"column": "Financial Status", "in": ["refunded", "voided"]}]
    assert todo_settings(suggestion) == ["exclude_rows"]
    assert "paid, refunded, voided" in suggestion.todos[0].text
    assert any("'Total'" in note.text and "order totals" in note.text for note in suggestion.notes)


def test_b2b_export_with_line_numbers_statuses_and_capped_unit_prices(tmp_path) -> None:
    content = (
        "ORDERNUMBER,QUANTITYORDERED,PRICEEACH,ORDERLINENUMBER,SALES,ORDERDATE,STATUS,"
        "PRODUCTLINE,PRODUCTCODE,CUSTOMERNAME,CITY,COUNTRY\n"
        "10107,30,95.7,2,2871,2/24/2003 0:00,Shipped,Motorcycles,S10_1678,Land of Toys,NYC,USA\n"
        "10121,34,81.35,5,2765.9,5/7/2003 0:00,Shipped,Motorcycles,S10_1678,Reims Collect,Reims,"
        "France\n"
        "10134,41,94.74,2,3884.34,7/1/2003 0:00,Cancelled,Motorcycles,S10_1678,Lyon Souveniers,"
        "Paris,France\n"
        "10107,39,100,1,4808.31,2/24/2003 0:00,Shipped,Classic Cars,S10_1949,Land of Toys,NYC,"
        "USA\n"
        "10121,50,100,4,7209.11,5/7/2003 0:00,On Hold,Classic Cars,S10_1949,Reims Collect,Reims,"
        "France\n"
        "10145,49,100,14,5494.78,8/25/2003 0:00,Shipped,Classic Cars,S10_1949,Toys4GrownUps,"
        "Pasadena,USA\n"
        "10146,20,100,3,2200.00,8/25/2003 0:00,Shipped,Classic Cars,S10_1949,Öko Spielwaren,"
        "Köln,Germany\n"
    ).encode("latin-1")
    suggestion = suggest(tmp_path, "sales_data_sample.csv", content)
    layout = suggestion.layout
    assert layout["encoding"] == "cp1252"
    assert layout["columns"] == {
        "order_id": "ORDERNUMBER",
        "order_date": "ORDERDATE",
        "product_id": "PRODUCTCODE",
        "quantity": "QUANTITYORDERED",
        "line_total": "SALES",
    }
    assert layout["optional_columns"] == {
        "customer_id": "CUSTOMERNAME",
        "category": "PRODUCTLINE",
        "price": "PRICEEACH",
        "city": "CITY",
    }
    assert layout["date_formats"] == ["%m/%d/%Y %H:%M"]
    assert layout["revenue"] == "line_total"
    assert layout["line_key"] == ["order_id", "ORDERLINENUMBER"]
    assert layout["exclude_rows"] == [{"column": "STATUS", "in": ["Cancelled"]}]
    assert todo_settings(suggestion) == ["revenue", "exclude_rows"]
    assert "differs from 'PRICEEACH' x 'QUANTITYORDERED' on 4 of 7" in suggestion.todos[0].text
    assert "Shipped, Cancelled, On Hold" in suggestion.todos[1].text


def test_invoice_lines_with_cancellations_returns_and_postage(tmp_path) -> None:
    content = (
        "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
        "489434,85048,15CM CHRISTMAS GLASS BALL 20 LIGHTS,12,2009-12-01 07:45:00,6.95,13085,UK\n"
        "489434,79323P,PINK CHERRY LIGHTS,12,2009-12-01 07:45:00,6.75,13085,UK\n"
        "489435,22350,CAT BOWL,12,2009-12-01 07:46:00,2.55,13085,UK\n"
        "489435,POST,POSTAGE,1,2009-12-01 07:46:00,18.00,13085,UK\n"
        "C489449,22087,PAPER BUNTING WHITE LACE,-12,2009-12-01 10:33:00,2.95,16321,Australia\n"
        "489436,21755,LOVE BUILDING BLOCK WORD,18,2009-12-01 09:06:00,5.45,13078,UK\n"
        "489437,C2,CARRIAGE,1,2009-12-01 09:08:00,50.00,15362,UK\n"
    )
    suggestion = suggest(tmp_path, "online_retail_II.csv", content)
    layout = suggestion.layout
    assert layout["columns"] == {
        "order_id": "Invoice",
        "order_date": "InvoiceDate",
        "product_id": "StockCode",
        "product_name": "Description",
        "price": "Price",
        "quantity": "Quantity",
    }
    assert layout["optional_columns"] == {"customer_id": "Customer ID"}
    assert layout["cancelled_order_prefix"] == "C"
    assert layout["negative_quantity_is_return"] is True
    assert layout["non_products"] == {"codes": ["C2", "POST"]}
    assert todo_settings(suggestion) == ["non_products"]


def test_whole_quantities_written_with_decimals_are_quantities(tmp_path) -> None:
    content = (
        "Order ID,Order Date,Product,Price,Quantity\n"
        "A1,2024-01-02,Mug,2.50,2.0\nA2,2024-01-03,Bowl,3.00,1.0\n"
    )
    suggestion = suggest(tmp_path, "floats.csv", content)
    assert suggestion.layout["columns"]["quantity"] == "Quantity"
    assert "constants" not in suggestion.layout


# --- what it cannot decide -----------------------------------------------------------------------


def test_a_required_field_with_no_column_is_a_todo_with_a_placeholder(tmp_path) -> None:
    content = "Order ID,Product,Price,Quantity\nA1,Mug,2.50,1\nA1,Bowl,3.00,2\nA2,Mug,2.50,1\n"
    suggestion = suggest(tmp_path, "nodates.csv", content)
    assert "order_date" not in suggestion.layout["columns"]
    assert "date_formats" not in suggestion.layout
    assert todo_settings(suggestion) == ["columns.order_date"]
    lines = render_layout(suggestion).splitlines()
    placeholder = lines.index("  # order_date: <column>")
    assert lines[placeholder - 2].startswith("  # TODO: order_date: no column")
    edited = render_layout(suggestion).replace("  # order_date: <column>", "  order_date: Day")
    assert yaml.safe_load(edited)["columns"]["order_date"] == "Day"


def test_two_equally_likely_columns_are_a_todo(tmp_path) -> None:
    content = (
        "Order ID,Paid Date,Sent Date,Product,Price,Quantity\n"
        "A1,2024-01-02,2024-01-05,Mug,2.50,1\nA2,2024-01-03,2024-01-06,Bowl,3.00,2\n"
    )
    suggestion = suggest(tmp_path, "dates.csv", content)
    assert suggestion.layout["columns"]["order_date"] == "Paid Date"
    assert todo_settings(suggestion) == ["columns.order_date"]
    assert "'Paid Date' and 'Sent Date' are equally likely" in suggestion.todos[0].text


def test_a_header_without_rows_is_mapped_by_name_and_says_so(tmp_path) -> None:
    suggestion = suggest(tmp_path, "empty_rows.csv", "Order ID,Order Date,Product,Price,Qty\n")
    assert suggestion.layout["columns"] == {
        "order_id": "Order ID",
        "order_date": "Order Date",
        "product_name": "Product",
        "price": "Price",
        "quantity": "Qty",
    }
    assert todo_settings(suggestion) == ["columns", "date_formats"]


# --- the YAML it writes --------------------------------------------------------------------------


@pytest.mark.parametrize("content", [ENGLISH, OLIST_ITEMS, SHOPIFY])
def test_the_yaml_reads_back_as_the_draft(tmp_path, content) -> None:
    suggestion = suggest(tmp_path, "export.csv", content)
    text = render_layout(suggestion)
    assert yaml.safe_load(text) == suggestion.layout
    assert set(suggestion.layout) <= SCHEMA_KEYS
    assert text.count("# TODO: ") == len(suggestion.todos)


def test_a_todo_sits_right_above_its_setting(tmp_path) -> None:
    content = "Order,Date,Item,Price,Qty\nA|B\n".replace("A|B", "1,03/04/2023,Mug,2.50,1")
    suggestion = suggest(tmp_path, "ambiguous.csv", content + "2,01/02/2023,Bowl,3.00,2\n")
    lines = render_layout(suggestion).splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("date_formats:"))
    assert lines[at] == 'date_formats: ["%d/%m/%Y", "%m/%d/%Y"]'
    above = [line for line in lines[:at] if line.startswith("#")][-1]
    assert lines[at - 1] == above
    todo_start = max(i for i in range(at) if lines[i].startswith("# TODO: date_formats"))
    assert all(line.startswith("#   ") for line in lines[todo_start + 1 : at])


def test_tab_delimiter_and_odd_column_names_are_quoted(tmp_path) -> None:
    content = (
        "Order #: ID\tDate\t%Product\tPrice\tQty\n"
        "1\t2024-01-02\tMug\t2.50\t1\n2\t2024-01-03\tBowl\t3.00\t2\n"
    )
    suggestion = suggest(tmp_path, "odd.csv", content)
    assert yaml.safe_load(render_layout(suggestion)) == suggestion.layout
    assert suggestion.layout["delimiter"] == "\t"


# --- files it reads, and files it refuses ---------------------------------------------------------


def test_gzip_and_parquet_exports_give_the_same_mapping(tmp_path) -> None:
    plain = suggest(tmp_path, "orders.csv", ENGLISH).layout
    packed = suggest(tmp_path, "orders.csv.gz", gzip.compress(ENGLISH.encode())).layout
    assert packed == plain
    frame = pl.read_csv((tmp_path / "orders.csv"), infer_schema=False)
    frame.write_parquet(tmp_path / "orders.parquet")
    parquet = suggest_layout(tmp_path / "orders.parquet").layout
    assert parquet["columns"] == plain["columns"]
    assert "encoding" not in parquet and "delimiter" not in parquet


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("empty.csv", b"", "the file is empty"),
        ("blank.csv", b"\n \n", "the file is empty"),
        ("binary.csv", b"PK\x03\x04\x00\x00binary", "binary data"),
        ("single.csv", b"just one column\nvalue\nother\n", "not delimited"),
        ("broken.csv.gz", b"not gzip at all", "not a readable file"),
        ("broken.parquet", b"PAR1 nonsense", "not a readable Parquet file"),
    ],
)
def test_bad_input_is_refused_naming_the_file(tmp_path, name, content, problem) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SuggestError, match=problem) as error:
        suggest_layout(path)
    assert str(error.value).startswith(str(path))


def test_a_missing_file_is_refused(tmp_path) -> None:
    with pytest.raises(SuggestError, match="no such file"):
        suggest_layout(tmp_path / "nope.csv")


# --- the real exports ----------------------------------------------------------------------------


def _dates_all_read(path: Path, encoding: str, column: str, formats: list[str]) -> bool:
    values = pl.read_csv(path, encoding=encoding, infer_schema=False)[column].unique().to_list()

    def reads(value: str) -> bool:
        for date_format in formats:
            try:
                datetime.strptime(value, date_format)
            except ValueError:
                continue
            return True
        return False

    return all(reads(value) for value in values)


def _bronze_rows(path: Path, layout: Layout) -> int:
    ingested_at = datetime(2026, 12, 1, tzinfo=UTC)
    return read_export(path, path.name, {layout.name: layout}, ingested_at).height


def test_superstore_draft_maps_the_right_columns_and_reads_the_file() -> None:
    path = REAL / "superstore.csv"
    suggestion = suggest_layout(path)
    layout = suggestion.layout
    assert layout["columns"] == {
        "order_id": "Order ID",
        "order_date": "Order Date",
        "product_id": "Product ID",
        "product_name": "Product Name",
        "quantity": "Quantity",
        "line_total": "Sales",
    }
    assert layout["optional_columns"] == {
        "customer_id": "Customer ID",
        "category": "Category",
        "city": "City",
    }
    assert (layout["encoding"], layout["delimiter"], layout["decimal"]) == ("cp1252", ",", ".")
    assert layout["date_formats"] == ["%m/%d/%Y"]
    assert layout["revenue"] == "line_total"
    assert suggestion.decided, suggestion.todos
    parsed = parse_draft(yaml.safe_load(render_layout(suggestion)))
    assert _bronze_rows(path, parsed) == 9994
    assert _dates_all_read(path, "windows-1252", "Order Date", layout["date_formats"])


def test_online_retail_draft_edited_as_it_asks_reads_the_file() -> None:
    path = REAL / "online_retail_sample.csv"
    suggestion = suggest_layout(path)
    layout = suggestion.layout
    assert layout["columns"] == {
        "order_id": "InvoiceNo",
        "order_date": "InvoiceDate",
        "product_id": "StockCode",
        "product_name": "Description",
        "price": "UnitPrice",
        "quantity": "Quantity",
    }
    assert layout["optional_columns"] == {"customer_id": "CustomerID"}
    assert layout["date_formats"] == ["%Y-%m-%d %H:%M:%S"]
    assert layout["cancelled_order_prefix"] == "C"
    assert layout["negative_quantity_is_return"] is True
    assert layout["line_key"] == ["order_id", "product_id", "quantity", "price"]
    assert todo_settings(suggestion) == ["non_products"]
    assert layout["non_products"]["codes"][:3] == ["POST", "DOT", "M"]
    # The TODO: delete real products from `codes:` (none is) and add what the sample missed:
    # SOURCES.md names C2 (carriage) among the lines that are not products.
    draft = yaml.safe_load(render_layout(suggestion))
    draft["non_products"]["codes"].append("C2")
    parsed = parse_draft(draft)
    assert _bronze_rows(path, parsed) == 20000
    assert _dates_all_read(path, "utf-8", "InvoiceDate", layout["date_formats"])


# --- the command line ----------------------------------------------------------------------------


def _ecom(*args: str, layouts: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ECOM), "layout", "suggest", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**_environ(), "ECOM_LAYOUTS_DIR": str(layouts)},
    )


def _environ() -> dict[str, str]:
    import os

    return dict(os.environ)


def test_cli_writes_the_draft_into_the_layouts_folder(tmp_path) -> None:
    export = tmp_path / "My Orders.csv"
    export.write_text(ENGLISH)
    layouts = tmp_path / "layouts"
    result = _ecom(str(export), layouts=layouts, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    written = layouts / "my_orders.yaml"
    assert f"wrote draft layout 'my_orders' to {written}" in result.stdout
    assert "order_id        <- Order ID" in result.stdout
    assert "everything required was decided" in result.stdout
    assert yaml.safe_load(written.read_text())["columns"]["price"] == "Unit Price"
    again = _ecom(str(export), layouts=layouts, cwd=tmp_path)
    assert again.returncode == 2
    assert "already exists; --force replaces it" in again.stderr
    forced = _ecom(str(export), "--force", "--name", "my_orders", layouts=layouts, cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr


def test_cli_exits_1_when_the_draft_needs_editing_and_still_writes_it(tmp_path) -> None:
    export = tmp_path / "ambiguous.csv"
    export.write_text("Order,Date,Item,Price,Qty\n1,03/04/2023,Mug,2.50,1\n2,01/02/2023,Cup,3,2\n")
    out = tmp_path / "drafts" / "shop.yaml"
    result = _ecom(str(export), "--out", str(out), "--name", "shop", layouts=tmp_path, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "could not decide (1; each is a TODO in the file):" in result.stdout
    assert "1. date_formats: every sampled 'Date'" in result.stdout
    text = out.read_text()
    assert "# TODO: date_formats" in text
    assert yaml.safe_load(text)["name"] == "shop"


def test_cli_does_not_take_a_built_in_layout_name(tmp_path) -> None:
    export = tmp_path / "superstore.csv"
    export.write_text(ENGLISH)
    result = _ecom(str(export), layouts=tmp_path / "layouts", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "layouts" / "superstore_2.yaml").is_file()


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [("missing.csv", None, "no such file"), ("data.bin", b"\x00\x01\x02", "binary data")],
)
def test_cli_refuses_bad_input_with_exit_2(tmp_path, name, content, problem) -> None:
    export = tmp_path / name
    if content is not None:
        export.write_bytes(content)
    layouts = tmp_path / "layouts"
    result = _ecom(str(export), layouts=layouts, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"ecom layout: {export}: ")
    assert problem in result.stderr
    assert not layouts.exists()
