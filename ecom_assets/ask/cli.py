"""The `ecom ask` command: answer one question and print it, or its JSON with `--json`."""

from __future__ import annotations

import argparse
import json
import sys

import polars as pl

from ecom_assets.ask.answer import Answer
from ecom_assets.ask.engine import Asker
from ecom_assets.tables import LakeStorageError, TableMissingError

EXIT_ANSWERED, EXIT_NOT_UNDERSTOOD, EXIT_REFUSED = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    """The arguments of `ecom ask`."""
    parser = argparse.ArgumentParser(
        prog="ecom ask", description="Answer a plain-English question (or a SELECT) over the lake."
    )
    parser.add_argument("question", nargs="+", help="the question, e.g. 'top 5 products by sales'")
    parser.add_argument("--json", action="store_true", help="print the answer as JSON")
    parser.add_argument("--lake-root", help="root of the Delta tables (default: ECOM_LAKE_ROOT)")
    return parser


def render(answer: Answer) -> str:
    """The answer as text: interpretation, SQL, the table and the answer sentence."""
    lines = [f"Question:       {answer.question}", f"Interpretation: {answer.interpretation}"]
    if answer.sql:
        lines += ["SQL:", *(f"    {line}" for line in answer.sql.splitlines())]
    if answer.columns:
        frame = pl.DataFrame(answer.rows, schema=answer.columns, orient="row")
        with pl.Config(
            tbl_rows=50,
            tbl_cols=-1,
            tbl_width_chars=160,
            fmt_str_lengths=60,
            tbl_hide_column_data_types=True,
            tbl_hide_dataframe_shape=True,
            float_precision=2,
            thousands_separator=True,
        ):
            lines.append(str(frame))
        if len(answer.rows) > 50:
            lines.append(f"({len(answer.rows)} rows; the first 50 shown)")
    lines.append(f"Answer: {answer.answer}")
    if answer.suggestions:
        lines += ["Try:", *(f"  - {item}" for item in answer.suggestions)]
    return "\n".join(lines)


def exit_code(answer: Answer) -> int:
    """0 when answered, 1 when not understood, 2 when refused."""
    if answer.refused:
        return EXIT_REFUSED
    return EXIT_ANSWERED if answer.understood else EXIT_NOT_UNDERSTOOD


def main(argv: list[str]) -> int:
    """Body of `ecom ask`: print the answer to the question in argv; return the exit code."""
    args = build_parser().parse_args(argv)
    question = " ".join(args.question)
    try:
        answer = Asker(args.lake_root).ask(question)
    except (TableMissingError, LakeStorageError) as error:
        print(f"ecom ask: {error}", file=sys.stderr)
        return EXIT_NOT_UNDERSTOOD
    if args.json:
        print(json.dumps(answer.to_json(), indent=2, allow_nan=False))
    else:
        print(render(answer))
    return exit_code(answer)
