"""The safety gate: every SQL statement is checked here before it runs, and so are questions.

`validate_sql` parses SQL with sqlglot and accepts exactly one read-only SELECT (set operations
and CTEs included) over the registered tables and their columns, built only from an allowlist of
syntax and functions, with joins only on the declared join keys and (given the tables' sizes)
no step that can make more rows than the row budget (see `joins`); it enforces a row limit and
returns the SQL re-rendered from the checked syntax tree, so what runs is exactly what was
checked. `screen_question` refuses questions that try to write, read files or URLs, or talk the
assistant out of its rules.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping

import sqlglot
from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import SqlglotError

from ecom_assets.ask.joins import JoinError, TableSize, check_query

MAX_QUESTION_CHARS = 2000
MAX_TABLE_REFERENCES = 4

_STRUCTURE: tuple[type[exp.Expr], ...] = (
    exp.Select,
    exp.Union,
    exp.Intersect,
    exp.Except,
    exp.Subquery,
    exp.With,
    exp.CTE,
    exp.From,
    exp.Join,
    exp.Where,
    exp.Group,
    exp.Having,
    exp.Order,
    exp.Ordered,
    exp.Limit,
    exp.Offset,
    exp.Distinct,
    exp.Table,
    exp.TableAlias,
    exp.Alias,
    exp.Column,
    exp.Identifier,
    exp.Star,
    exp.Literal,
    exp.Null,
    exp.Boolean,
    exp.Paren,
    exp.Tuple,
    exp.Var,
    exp.DataType,
    exp.Interval,
    exp.Neg,
    exp.Not,
    exp.And,
    exp.Or,
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.Mod,
    exp.DPipe,
    exp.In,
    exp.Between,
    exp.Like,
    exp.ILike,
    exp.Is,
    exp.Exists,
)
_FUNCTIONS: tuple[type[exp.Expr], ...] = (
    exp.Sum,
    exp.Avg,
    exp.Count,
    exp.Min,
    exp.Max,
    exp.Median,
    exp.Stddev,
    exp.StddevSamp,
    exp.Variance,
    exp.Round,
    exp.Abs,
    exp.Floor,
    exp.Ceil,
    exp.Sqrt,
    exp.Coalesce,
    exp.Nullif,
    exp.Greatest,
    exp.Least,
    exp.Lower,
    exp.Upper,
    exp.Length,
    exp.Trim,
    exp.Concat,
    exp.Substring,
    exp.Replace,
    exp.Extract,
    exp.Year,
    exp.Month,
    exp.Cast,
    exp.Case,
    exp.If,
)
_NAMED_FUNCTIONS = frozenset({"strftime", "date_part"})
_ALLOWED = _STRUCTURE + _FUNCTIONS
ALLOWED_FUNCTION_NAMES = (
    "SUM, AVG, COUNT, MIN, MAX, MEDIAN, STDDEV, VARIANCE, ROUND, ABS, FLOOR, CEIL, SQRT, "
    "COALESCE, NULLIF, GREATEST, LEAST, LOWER, UPPER, LENGTH, TRIM, CONCAT, SUBSTRING, REPLACE, "
    "EXTRACT, DATE_PART, STRFTIME, YEAR, MONTH, CAST, CASE"
)

_WRITE_WORDS = (
    "drop|delete|insert|update|alter|create|attach|detach|copy|pragma|truncate|grant|revoke|"
    "merge|vacuum|install|load|rename|upsert|exec|execute|set"
)
_STARTS_WITH_WRITE = re.compile(rf"^\W*(?:{_WRITE_WORDS})\b", re.IGNORECASE)
_DESTRUCTIVE = re.compile(
    r"\b(?:drop|delete|truncate|wipe|erase|destroy|overwrite|alter|insert into|update)\s+"
    r"(?:the\s+|all\s+|every\s+|this\s+|that\s+)?(?:tables?|database|schema|data|rows|records|"
    r"everything|lake)\b",
    re.IGNORECASE,
)
_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b.{0,40}\b(?:instructions?|rules?|prompts?|guidelines)"
    r"|\byou are now\b|\b(?:admin|developer|god|debug|root|sudo)\s+mode\b|\bsystem prompt\b"
    r"|\bjailbreak|\bact as\b|\bpretend (?:to be|you)\b",
    re.IGNORECASE,
)
_LOCATION = re.compile(
    r"[a-z][a-z0-9+.-]*://|(?:^|[\s'\"(=])(?:/|~/|\.\.?/)[\w.~-]|\b[a-z]:\\|\\\\|"
    r"\b(?:read|scan)_\w+\s*\(|\b\w+\.(?:csv|parquet|json|ndjson|ipc|arrow|db|sqlite|txt)\b",
    re.IGNORECASE,
)
_LEADING_COMMENTS = re.compile(r"^(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.DOTALL)
_SQL_START = re.compile(r"^\(*\s*(?:select|with)\b", re.IGNORECASE)


class UnsafeQueryError(ValueError):
    """A question or SQL statement refused by the safety gate; the message says why."""


class PolarsSQL(Postgres):
    """The SQL dialect Polars' SQL engine reads: Postgres syntax, with MEDIAN kept as is."""

    class Generator(Postgres.Generator):  # type: ignore[valid-type,misc]
        TRANSFORMS = {  # noqa: RUF012 (sqlglot's own class-level table)
            **Postgres.Generator.TRANSFORMS,
            exp.Median: lambda self, node: self.func("MEDIAN", node.this),
        }


def looks_like_sql(text: str) -> bool:
    """Whether a question is SQL typed by the user (it starts with SELECT or WITH)."""
    return bool(_SQL_START.match(_LEADING_COMMENTS.sub("", text, count=1)))


def screen_question(text: str) -> str | None:
    """Why a question must be refused before it is interpreted, or None when it may go on."""
    if len(text) > MAX_QUESTION_CHARS:
        return f"the question is {len(text):,} characters long; the limit is {MAX_QUESTION_CHARS:,}"
    stripped = _LEADING_COMMENTS.sub("", text, count=1)
    if _STARTS_WITH_WRITE.match(stripped) and not looks_like_sql(stripped):
        word = stripped.split()[0].strip("(;").upper()
        return f"this assistant only reads data; {word} statements are not allowed"
    if _DESTRUCTIVE.search(text):
        return "this assistant only reads data; it cannot change or delete anything"
    if _INJECTION.search(text):
        return (
            "this assistant only answers questions about the sales tables; "
            "instructions that try to change its rules are ignored"
        )
    if not looks_like_sql(stripped) and _LOCATION.search(text):
        return "questions can only read the registered tables, not files, paths or URLs"
    return None


def _parse(sql: str) -> exp.Expr:
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        statements = [item for item in sqlglot.parse(sql, read=PolarsSQL) if item is not None]
    except SqlglotError as error:
        raise UnsafeQueryError(f"the SQL could not be parsed: {_first_line(error)}") from error
    finally:
        logger.setLevel(level)
    if len(statements) != 1:
        raise UnsafeQueryError(f"exactly one SQL statement is allowed; found {len(statements)}")
    return statements[0]


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _check_nodes(tree: exp.Expr) -> None:
    for node in tree.walk():
        if isinstance(node, exp.Anonymous):
            if node.name.lower() not in _NAMED_FUNCTIONS:
                raise UnsafeQueryError(
                    f"function {node.name.upper()} is not allowed; allowed functions: "
                    f"{ALLOWED_FUNCTION_NAMES}"
                )
        elif not isinstance(node, _ALLOWED) or isinstance(node, exp.Window):
            if isinstance(node, exp.Func):
                name = node.sql_name() if hasattr(node, "sql_name") else type(node).__name__
                raise UnsafeQueryError(
                    f"function {name} is not allowed; allowed functions: {ALLOWED_FUNCTION_NAMES}"
                )
            raise UnsafeQueryError(
                f"{type(node).__name__.upper()} is not allowed: only read-only SELECT queries "
                "over the registered tables can run"
            )
        if isinstance(node, exp.Select) and node.args.get("into"):
            raise UnsafeQueryError("SELECT ... INTO is not allowed")
        if isinstance(node, exp.With) and node.args.get("recursive"):
            raise UnsafeQueryError("recursive queries are not allowed")


def _check_names(tree: exp.Expr, schema: Mapping[str, Collection[str]]) -> None:
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    tables = list(tree.find_all(exp.Table))
    if len(tables) > MAX_TABLE_REFERENCES:
        raise UnsafeQueryError(f"at most {MAX_TABLE_REFERENCES} table references are allowed")
    sources = set(ctes)
    columns: set[str] = set()
    for table in tables:
        if not isinstance(table.this, exp.Identifier) or table.args.get("db"):
            raise UnsafeQueryError(
                f"only the registered tables can be read: {', '.join(sorted(schema))}"
            )
        if table.name not in ctes:
            if table.name not in schema:
                raise UnsafeQueryError(
                    f"unknown table {table.name!r}; the tables are: {', '.join(sorted(schema))}"
                )
            columns.update(schema[table.name])
        sources.update({table.name, table.alias})
    sources.update(node.alias for node in tree.find_all(exp.Subquery) if node.alias)
    columns.update(node.alias for node in tree.find_all(exp.Alias))
    columns.update(
        identifier.name
        for alias in tree.find_all(exp.TableAlias)
        for identifier in alias.args.get("columns") or []
    )
    for column in tree.find_all(exp.Column):
        if isinstance(column.this, exp.Star):
            continue
        if column.table and column.table not in sources:
            raise UnsafeQueryError(f"unknown table or alias {column.table!r}")
        if column.name not in columns:
            raise UnsafeQueryError(f"unknown column {column.name!r}")


def _enforce_limit(tree: exp.Expr, max_rows: int) -> None:
    limit = tree.args.get("limit")
    value = limit.expression if isinstance(limit, exp.Limit) else None
    if isinstance(value, exp.Literal) and value.is_int and int(value.this) <= max_rows:
        return
    tree.set("limit", exp.Limit(expression=exp.Literal.number(max_rows)))


def validate_sql(
    sql: str,
    schema: Mapping[str, Collection[str]],
    max_rows: int = 1000,
    *,
    join_keys: Mapping[str, Collection[str]] | None = None,
    sizes: Mapping[str, TableSize] | None = None,
    row_budget: int | None = None,
) -> str:
    """The checked SQL, re-rendered with a row limit; raises UnsafeQueryError when refused.

    `join_keys` (key column -> the tables that carry it) are the only columns a join may equate:
    without them no join is allowed. With `sizes` and `row_budget`, a query that can produce
    more rows than the budget in any step is refused too.
    """
    if len(sql) > MAX_QUESTION_CHARS:
        raise UnsafeQueryError(f"the SQL is longer than {MAX_QUESTION_CHARS:,} characters")
    tree = _parse(sql)
    if not isinstance(tree, exp.Select | exp.Union | exp.Intersect | exp.Except):
        kind = tree.key.upper() if tree.key else type(tree).__name__.upper()
        raise UnsafeQueryError(f"only SELECT queries are allowed, not {kind}")
    _check_nodes(tree)
    _check_names(tree, schema)
    try:
        check_query(tree, join_keys or {}, sizes, row_budget)
    except JoinError as error:
        raise UnsafeQueryError(str(error)) from error
    _enforce_limit(tree, max_rows)
    return tree.sql(dialect=PolarsSQL, pretty=True, comments=False)
