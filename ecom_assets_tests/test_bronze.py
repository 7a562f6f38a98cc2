"""Reading export files: layout detection, spreadsheet quirks and every bad-file case."""

import gzip
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

import ecom_assets.transforms.bronze as bronze_transforms
from ecom_assets.layouts import LayoutError, load_layouts, parse_layout
from ecom_assets.transforms.bronze import ExportFileError, export_files, read_export
from ecom_assets_tests.conftest import INGESTED_AT, ORIGINAL_HEADER, original_csv

GOOD_LINE = "ORD-1,2024-01-05,C1,Aurora Lamp,Home & Kitchen,10.00,2,20.00,4.5,10,PayPal,Paris"


def _read(path: Path, layouts) -> pl.DataFrame:
    return read_export(path, path.name, layouts, INGESTED_AT)


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("empty.csv", b"", "the file is empty"),
        ("blank.csv", b"\n\n  \n", "the file is empty"),
        ("header_only.csv", (ORIGINAL_HEADER + "\n").encode(), "header but no rows"),
        (
            "unknown.csv",
            b"when,what,how much\n2024-01-01,lamp,3\n",
            "matches no known layout",
        ),
        (
            "truncated.csv",
            original_csv(GOOD_LINE).encode() + b"ORD-2,2024-01-06,C2,Aurora La",
            "truncated: its last line (3) ends after 4 of 12 fields",
        ),
        ("image.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "not a CSV text file"),
        ("notes.txt", b"just some notes\n", "unsupported file type"),
        ("broken.csv.gz", b"\x1f\x8b\x08\x00garbage", "not a readable gzip file"),
        ("broken.parquet", b"PAR1 not really", "not a readable Parquet file"),
    ],
)
def test_bad_files_fail_with_the_file_name_and_the_problem(
    write_file, layouts, name: str, content: bytes, problem: str
) -> None:
    path = write_file(name, content)
    with pytest.raises(ExportFileError) as caught:
        _read(path, layouts)
    assert caught.value.file == name
    assert str(caught.value).startswith(f"{name}: ")
    assert problem in caught.value.problem


def test_unknown_header_names_the_nearest_layout_and_what_it_lacks(write_file, layouts) -> None:
    header = ORIGINAL_HEADER.replace("Quantity", "Qty")
    path = write_file("renamed.csv", f"{header}\n{GOOD_LINE}\n")
    with pytest.raises(ExportFileError, match=r"nearest layout 'original' lacks \['Quantity'\]"):
        _read(path, layouts)


def test_original_layout_rows_become_text_with_lineage(write_file, layouts) -> None:
    path = write_file("orders.csv", original_csv(GOOD_LINE, GOOD_LINE.replace("ORD-1", "ORD-2")))
    frame = _read(path, layouts)
    assert frame.height == 2
    assert set(frame.schema.values()) >= {pl.String}
    assert frame["_layout"].to_list() == ["original", "original"]
    assert frame["_source_file"].to_list() == ["orders.csv", "orders.csv"]
    assert frame["_source_row"].to_list() == [1, 2]
    assert frame["Price"].to_list() == ["10.00", "10.00"]
    assert all(dtype == pl.String for name, dtype in frame.schema.items() if name[0] != "_")


def test_extra_columns_are_kept(write_file, layouts) -> None:
    path = write_file("extra.csv", f"{ORIGINAL_HEADER},Coupon\n{GOOD_LINE},WELCOME10\n")
    assert _read(path, layouts)["Coupon"].to_list() == ["WELCOME10"]


def test_spreadsheet_quirks_bom_crlf_quotes_and_missing_final_newline(write_file, layouts) -> None:
    quoted = GOOD_LINE.replace("Aurora Lamp", '"Lamp, ""Aurora"" edition"')
    content = ("\ufeff" + ORIGINAL_HEADER + "\r\n" + quoted + "\r\n" + GOOD_LINE).encode("utf-8")
    frame = _read(write_file("excel.csv", content), layouts)
    assert frame["Product"].to_list() == ['Lamp, "Aurora" edition', "Aurora Lamp"]
    assert frame["City"].to_list() == ["Paris", "Paris"]
    assert "OrderID" in frame.columns


def test_online_retail_layout_in_windows_1252_is_detected_and_decoded(write_file, layouts) -> None:
    content = (
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\r\n"
        "536365,85123A,CAF\u00c9 HEART T-LIGHT HOLDER \u2013 WHITE,6,12/1/2010 8:26,2.55,17850,"
        "United Kingdom\r\n"
    ).encode("cp1252")
    frame = _read(write_file("retail.csv", content), layouts)
    assert frame["_layout"].item() == "online_retail"
    assert frame["Description"].item() == "CAF\u00c9 HEART T-LIGHT HOLDER \u2013 WHITE"
    assert frame["Country"].item() == "United Kingdom"


def test_superstore_layout_is_detected(write_file, layouts) -> None:
    content = (
        "Row ID,Order ID,Order Date,Ship Date,Customer ID,City,Product ID,Category,Sub-Category,"
        "Product Name,Sales,Quantity,Discount,Profit\n"
        "1,CA-2016-152156,11/8/2016,11/11/2016,CG-12520,Henderson,FUR-BO-10001798,Furniture,"
        'Bookcases,"Bush Somerset Collection Bookcase",261.96,2,0,41.9136\n'
    )
    frame = _read(write_file("superstore.csv", content), layouts)
    assert frame["_layout"].item() == "superstore"
    assert frame["Product Name"].item() == "Bush Somerset Collection Bookcase"


def test_gzip_and_parquet_exports_are_read(write_file, layouts, tmp_path: Path) -> None:
    gz = write_file("orders.csv.gz", gzip.compress(original_csv(GOOD_LINE).encode()))
    assert _read(gz, layouts)["OrderID"].to_list() == ["ORD-1"]
    parquet = tmp_path / "raw" / "orders.parquet"
    pl.DataFrame(
        {
            name: [value]
            for name, value in zip(ORIGINAL_HEADER.split(","), GOOD_LINE.split(","), strict=True)
        }
    ).with_columns(pl.col("Quantity").cast(pl.Int64)).write_parquet(parquet)
    frame = _read(parquet, layouts)
    assert frame["Quantity"].to_list() == ["2"]
    assert frame["_layout"].item() == "original"


def test_header_case_and_spacing_do_not_matter(write_file, layouts) -> None:
    header = ",".join(f" {name.lower()} " for name in ORIGINAL_HEADER.split(","))
    frame = _read(write_file("lower.csv", f"{header}\n{GOOD_LINE}\n"), layouts)
    assert frame["_layout"].item() == "original"
    assert frame["OrderID"].item() == "ORD-1"


def test_export_files_skips_hidden_files_and_walks_subfolders(tmp_path: Path) -> None:
    (tmp_path / "2024").mkdir()
    for name in (".gitkeep", "a.csv", "2024/b.csv"):
        (tmp_path / name).write_text("x")
    assert [p.relative_to(tmp_path).as_posix() for p in export_files(tmp_path)] == [
        "2024/b.csv",
        "a.csv",
    ]


def test_a_user_layout_file_is_loaded_and_used(write_file, tmp_path: Path) -> None:
    layouts_dir = tmp_path / "layouts"
    layouts_dir.mkdir()
    (layouts_dir / "shopify.yaml").write_text(
        "name: semicolon_shop\n"
        "delimiter: ';'\n"
        "decimal: ','\n"
        "date_formats: ['%d.%m.%Y']\n"
        "columns: {order_id: Bestellung, order_date: Datum, product_name: Artikel,"
        " price: Preis, quantity: Menge}\n"
    )
    layouts = load_layouts(layouts_dir)
    assert {"original", "superstore", "online_retail", "semicolon_shop"} <= set(layouts)
    path = write_file(
        "de.csv", "Bestellung;Datum;Artikel;Preis;Menge\nB-1;05.01.2024;Lampe;12,50;2\n"
    )
    frame = _read(path, layouts)
    assert frame["_layout"].item() == "semicolon_shop"
    assert frame["Preis"].item() == "12,50"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"columns": {"order_id": "A"}}, "missing required setting 'name'"),
        ({"name": "x", "columns": {"order_id": "A", "colour": "B"}}, "unknown field(s) ['colour']"),
        ({"name": "x", "colour": 1, "columns": {}}, "unknown setting(s) ['colour']"),
        (
            {"name": "x", "columns": {"order_id": "A", "order_date": "B", "quantity": "C"}},
            "must map 'product_id' or 'product_name'",
        ),
        (
            {
                "name": "x",
                "columns": {"order_id": "A", "order_date": "B", "quantity": "C", "product_id": "D"},
            },
            "revenue 'price_times_quantity' needs a 'price' column",
        ),
        (
            {
                "name": "x",
                "encoding": "klingon",
                "columns": {
                    "order_id": "A",
                    "order_date": "B",
                    "quantity": "C",
                    "product_id": "D",
                    "price": "E",
                },
            },
            "unknown encoding 'klingon'",
        ),
    ],
)
def test_bad_layout_files_are_refused_with_the_setting_at_fault(data, message: str) -> None:
    with pytest.raises(LayoutError) as caught:
        parse_layout(data, "my_layout.yaml")
    assert str(caught.value).startswith("my_layout.yaml: ")
    assert message in str(caught.value)


def _chunked_with_byte(byte: int) -> tuple[bytes, int]:
    """An original-layout export of 50 UTF-8 lines with one byte replaced on line 39."""
    lines = [GOOD_LINE.replace("ORD-1", f"ORD-{n}") for n in range(50)]
    text = "\n".join([ORIGINAL_HEADER, *lines]) + "\n"
    data = bytearray(text.encode("utf-8"))
    at = data.index(b"ORD-37,") + 2
    data[at] = byte
    return bytes(data), at


def test_a_bad_byte_deep_in_a_file_read_in_chunks_is_named_by_byte_and_line(
    write_file, layouts, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bronze_transforms, "CHUNK_BYTES", 64)
    data, bad_at = _chunked_with_byte(0xE9)
    path = write_file("big.csv", data)
    expected_line = data[:bad_at].count(b"\n") + 1
    utf8_only = {**layouts, "original": replace(layouts["original"], encoding="utf-8")}
    with pytest.raises(ExportFileError) as caught:
        _read(path, utf8_only)
    assert f"byte {bad_at} (line {expected_line}) is not valid utf-8" in caught.value.problem
    assert "of layout 'original'" in caught.value.problem
    assert expected_line == 39


def test_an_auto_encoding_file_that_stops_being_utf8_deep_inside_is_read_in_the_detected_one(
    write_file, layouts, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bronze_transforms, "CHUNK_BYTES", 64)
    data, _ = _chunked_with_byte(0xE9)
    frame = _read(write_file("big.csv", data), layouts)
    assert frame.height == 50
    assert frame["OrderID"][37] == "OR\u00e9-37"
    assert frame["_source_encoding"].unique().to_list() == ["cp1252"]


def test_a_file_read_in_chunks_gives_the_rows_of_one_read(
    write_file, layouts, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [GOOD_LINE.replace("ORD-1", f"ORD-{n}") for n in range(50)]
    path = write_file("big.csv", "\n".join([ORIGINAL_HEADER, *lines]) + "\n")
    whole = _read(path, layouts)
    monkeypatch.setattr(bronze_transforms, "CHUNK_BYTES", 64)
    assert _read(path, layouts).equals(whole)
    assert whole["OrderID"].to_list() == [f"ORD-{n}" for n in range(50)]
    assert whole["_source_row"].to_list() == list(range(1, 51))
