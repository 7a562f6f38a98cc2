"""The `ecom` command line: `ecom generate` writes a synthetic order export; `ecom ask` answers a
plain-English question over the decision tables, with the SQL it ran; `ecom dashboard` serves
the browser dashboard; `ecom layout suggest FILE` drafts a layout for an export no layout reads."""

import argparse
import sys
from pathlib import Path

from ecom_assets import settings
from ecom_assets.transforms.bronze import export_files

PROGRESS_FROM_ROWS = 1_000_000


def _generate(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from ecom_assets.generate import CALENDAR_START, ShopShape, expected_rows, generate_orders

    if args.days is not None and args.start is not None:
        raise ValueError("give --days or --start, not both")
    start = args.end - timedelta(days=args.days - 1) if args.days is not None else args.start
    shape = ShopShape(
        start=start or CALENDAR_START,
        end=args.end,
        products=args.products,
        categories=args.categories,
        ratings=not args.no_ratings,
    )
    rows = expected_rows(args.rows, args.density, shape)
    raw_dir = settings.raw_dir()
    target = Path(args.out) if args.out else raw_dir / f"orders_{rows}_seed{args.seed}.csv"
    if args.if_empty and export_files(raw_dir):
        print(f"{raw_dir} already holds exports; nothing generated")
        return 0
    summary = generate_orders(
        target,
        rows=args.rows,
        seed=args.seed,
        progress=rows >= PROGRESS_FROM_ROWS,
        shape=shape,
        density=args.density,
    )
    dirty = sum(summary.dirty_rows.values())
    print(
        f"wrote {summary.rows_written:,} order lines ({dirty:,} deliberately dirty) for "
        f"{summary.products} products in {summary.categories} categories, "
        f"{summary.first_date} to {summary.last_date}, to {summary.path}"
    )
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    from ecom_assets.dashboard import launch

    return launch(args.port, args.host)


def _layout_suggest(args: argparse.Namespace) -> int:
    from ecom_assets.layouts import BUILTIN_DIR
    from ecom_assets.layouts.suggest import describe, layout_name, render_layout, suggest_layout

    source = Path(args.file)
    name = args.name
    if name is None:
        built_in = {path.stem for path in BUILTIN_DIR.glob("*.yaml")}
        name = layout_name(source)
        name = f"{name}_2" if name in built_in else name
    target = Path(args.out) if args.out else settings.user_layouts_dir() / f"{name}.yaml"
    if target.exists() and not args.force:
        raise ValueError(f"{target} already exists; --force replaces it, --out writes elsewhere")
    suggestion = suggest_layout(source, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_layout(suggestion), encoding="utf-8")
    print(describe(suggestion, target))
    return 0 if suggestion.decided else 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `ecom` and its subcommands."""
    from datetime import date

    from ecom_assets.generate import (
        CALENDAR_END,
        CALENDAR_START,
        DEFAULT_PRODUCTS,
        DEFAULT_ROWS,
        DEFAULT_SEED,
        MAX_CATEGORIES,
    )

    parser = argparse.ArgumentParser(prog="ecom", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser(
        "generate", help="write a deterministic synthetic order export (original layout)"
    )
    generate.add_argument(
        "--rows", type=int, help=f"about how many lines (default {DEFAULT_ROWS:,})"
    )
    generate.add_argument(
        "--density",
        type=float,
        help="instead of --rows: mean order lines per product per month (30 dense, 0.1 sparse)",
    )
    generate.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    generate.add_argument(
        "--days", type=int, help="days of history, ending on --end (instead of --start)"
    )
    generate.add_argument(
        "--start", type=date.fromisoformat, help=f"first day, YYYY-MM-DD (default {CALENDAR_START})"
    )
    generate.add_argument(
        "--end",
        type=date.fromisoformat,
        default=CALENDAR_END,
        help=f"last day, YYYY-MM-DD (default {CALENDAR_END})",
    )
    generate.add_argument("--products", type=int, default=DEFAULT_PRODUCTS, help="catalogue size")
    generate.add_argument(
        "--categories",
        type=int,
        default=MAX_CATEGORIES,
        help=f"categories, 0 to {MAX_CATEGORIES} (0: the Category field is left blank)",
    )
    generate.add_argument(
        "--no-ratings", action="store_true", help="export no Rating and Reviews columns"
    )
    generate.add_argument(
        "--out", help="file to write (default: <raw dir>/orders_<rows>_seed<seed>.csv)"
    )
    generate.add_argument(
        "--if-empty",
        action="store_true",
        help="do nothing when the landing folder already holds an export",
    )
    generate.set_defaults(handler=_generate)
    dashboard = commands.add_parser(
        "dashboard", help="serve the browser dashboard on 127.0.0.1 and print its URL"
    )
    dashboard.add_argument("--port", type=int, help="port (default 8501, or a free one if taken)")
    dashboard.add_argument("--host", default="127.0.0.1", help="address to bind")
    dashboard.set_defaults(handler=_dashboard)
    layout = commands.add_parser("layout", help="work with export layouts")
    layout_commands = layout.add_subparsers(dest="layout_command", required=True)
    suggest = layout_commands.add_parser(
        "suggest",
        help="draft a layout YAML for an export no layout reads (exit 1: it needs editing)",
    )
    suggest.add_argument("file", help="the export: .csv, .csv.gz or .parquet")
    suggest.add_argument(
        "--out", help="file to write (default: <layouts dir>/<name>.yaml, ECOM_LAYOUTS_DIR)"
    )
    suggest.add_argument("--name", help="the layout's name (default: from the file name)")
    suggest.add_argument("--force", action="store_true", help="replace an existing file")
    suggest.set_defaults(handler=_layout_suggest)
    commands.add_parser(
        "ask",
        help='answer a question over the decision tables: ecom ask "top 5 products" [--json]',
        add_help=False,
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `ecom` console script."""
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["ask"]:
        from ecom_assets.ask import main as ask_main

        return ask_main(arguments[1:])
    args = build_parser().parse_args(arguments)
    try:
        return int(args.handler(args))
    except ValueError as error:
        print(f"ecom {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
