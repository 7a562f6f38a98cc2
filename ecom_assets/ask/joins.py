"""Joins only on declared keys, and how many rows a query can make, read from its syntax tree.

`check_query` walks a parsed SELECT scope by scope (CTEs, subqueries in FROM, subqueries in
conditions, set operations). It refuses any join that is not a conjunction of equalities
`a.key = b.key` between the same declared key of the two sides (`ON 1=1`, `ON TRUE`,
inequalities, USING on a non-key, comma, CROSS and NATURAL joins, joins without a condition,
nested joins in parentheses), where a key survives a subquery only as a plain column. It also
bounds the rows of every table read and every join from the tables' sizes: a join on a key
makes at most (rows so far) x (the most rows of the joined side sharing one key value), an
equality filter on a key keeps at most that many rows of its table, GROUP BY or DISTINCT on one
key leaves one row per value, an aggregate without GROUP BY one row and LIMIT n at most n. When
a step can exceed the row budget the query is refused before it runs.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass

import polars as pl
from sqlglot import exp

_QUERY = (exp.Select, exp.SetOperation)
_ONE_SIDED = ("SEMI", "ANTI")


class JoinError(ValueError):
    """A query refused for its joins or for the rows they can produce; the message says why."""


@dataclass(frozen=True)
class TableSize:
    """How many rows a table has, and the most rows that share one value of each join key."""

    rows: int
    per_key: Mapping[str, int]


def table_sizes(
    frames: Mapping[str, pl.DataFrame], join_keys: Mapping[str, Collection[str]]
) -> dict[str, TableSize]:
    """The size of each loaded table and the multiplicity of its declared join keys."""
    sizes = {}
    for name, frame in frames.items():
        per_key = {
            key: int(frame.group_by(key).len().select(pl.col("len").max()).item() or 0)
            for key, tables in join_keys.items()
            if name in tables and key in frame.columns
        }
        sizes[name] = TableSize(frame.height, per_key)
    return sizes


@dataclass(frozen=True)
class _Relation:
    """What a source offers a join: a bound on its rows and its key columns (name -> key)."""

    name: str
    rows: int
    keys: Mapping[str, str]
    per_key: Mapping[str, int]

    def multiplicity(self, column: str) -> int:
        return min(self.per_key.get(column, self.rows), self.rows)


@dataclass
class _Walk:
    join_keys: Mapping[str, Collection[str]]
    sizes: Mapping[str, TableSize] | None
    budget: int | None
    peak: int = 0

    def produce(self, rows: int, step: str, how: str) -> None:
        """Record a step's row bound; refuse when it exceeds the budget."""
        self.peak = max(self.peak, rows)
        if self.budget is not None and rows > self.budget:
            raise JoinError(
                f"{step} could produce up to {rows:,} rows ({how}); the row budget is "
                f"{self.budget:,} rows (ECOM_ASK_ROW_BUDGET), checked before anything runs. "
                "Narrow the question: filter a table to one product_id or category, aggregate "
                "a side first (GROUP BY its key), or join on product_id rather than category"
            )

    def declared(self) -> str:
        keys = [f"{key} ({', '.join(tables)})" for key, tables in self.join_keys.items()]
        return f"the declared join keys are {' and '.join(keys)}" if keys else "none is declared"


def check_query(
    tree: exp.Expr,
    join_keys: Mapping[str, Collection[str]],
    sizes: Mapping[str, TableSize] | None = None,
    budget: int | None = None,
) -> int:
    """The most rows a step of the query can make; raises JoinError for a join off the keys
    or, given the tables' sizes, for a step that can make more rows than the budget."""
    walk = _Walk(join_keys, sizes, budget)
    _query(tree, {}, walk, "query")
    return walk.peak


def _query(node: exp.Expr, ctes: Mapping[str, _Relation], walk: _Walk, name: str) -> _Relation:
    if isinstance(node, exp.Subquery):
        return _query(node.this, ctes, walk, name)
    scope = dict(ctes)
    with_ = node.args.get("with_")
    for cte in with_.expressions if with_ else []:
        scope[cte.alias_or_name] = _query(cte.this, scope, walk, cte.alias_or_name)
    if isinstance(node, exp.SetOperation):
        left = _query(node.this, scope, walk, name)
        right = _query(node.expression, scope, walk, name)
        return _limited(node, _Relation(name, left.rows + right.rows, {}, {}))
    if not isinstance(node, exp.Select):
        raise JoinError(f"{type(node).__name__.upper()} cannot be read as a query")
    for inner in _inner_queries(node):
        _query(inner, scope, walk, "a subquery")
    return _select(node, scope, walk, name)


def _inner_queries(node: exp.Expr) -> Iterator[exp.Expr]:
    """The queries nested in a SELECT's conditions and expressions (not its FROM or CTEs)."""
    for key, value in node.args.items():
        if key in ("from_", "joins", "with_"):
            continue
        for child in value if isinstance(value, list) else [value]:
            if isinstance(child, exp.Expr):
                yield from _queries_below(child)


def _queries_below(node: exp.Expr) -> Iterator[exp.Expr]:
    if isinstance(node, _QUERY):
        yield node
        return
    for child in node.iter_expressions():
        yield from _queries_below(child)


def _source(node: exp.Expr, ctes: Mapping[str, _Relation], walk: _Walk) -> tuple[str, _Relation]:
    """The name a FROM or JOIN item is known by in its scope, and what it offers."""
    if node.args.get("joins") or (
        isinstance(node, exp.Subquery) and not isinstance(node.this, _QUERY)
    ):
        raise JoinError(
            "joins nested in parentheses are not allowed; write the joins one after another"
        )
    renamed = isinstance(node.args.get("alias"), exp.TableAlias) and bool(
        node.args["alias"].args.get("columns")
    )
    if isinstance(node, exp.Subquery):
        name = node.alias or "subquery"
        relation = _query(node.this, ctes, walk, name)
    elif isinstance(node, exp.Table) and node.name in ctes:
        name = node.alias_or_name
        relation = ctes[node.name]
    elif isinstance(node, exp.Table):
        name = node.alias_or_name
        relation = _table(node.name, walk)
    else:
        raise JoinError(f"{node.sql()} cannot be read as a table")
    if renamed:
        relation = _Relation(relation.name, relation.rows, {}, {})
    return name, relation


def _table(table: str, walk: _Walk) -> _Relation:
    size = (walk.sizes or {}).get(table, TableSize(0, {}))
    keys = {key: key for key, tables in walk.join_keys.items() if table in tables}
    per_key = {key: size.per_key.get(key, size.rows) for key in keys}
    walk.produce(size.rows, f"reading {table}", f"{size.rows:,} rows in the table")
    return _Relation(table, size.rows, keys, per_key)


def _select(node: exp.Select, ctes: Mapping[str, _Relation], walk: _Walk, name: str) -> _Relation:
    from_ = node.args.get("from_")
    if from_ is None:
        return _Relation(name, 1, {}, {})
    joins = node.args.get("joins") or []
    inner = all(not join.args.get("side") for join in joins)
    first, relation = _source(from_.this, ctes, walk)
    sources = {first: _filtered(relation, first, node, inner, single=not joins)}
    rows, fanout = sources[first].rows, 1
    for join in joins:
        alias, relation = _source(join.this, ctes, walk)
        if alias in sources:
            raise JoinError(
                f"{alias} appears twice in one FROM; give each table its own alias "
                f"(FROM {relation.name} AS a JOIN {relation.name} AS b ON a.key = b.key)"
            )
        relation = _filtered(relation, alias, node, inner, single=False)
        pairs = _key_pairs(join, alias, relation, sources, walk)
        growth, key = min(
            (relation.multiplicity(right), relation.keys[right]) for *_, right in pairs
        )
        before = rows
        if (join.args.get("kind") or "").upper() in _ONE_SIDED:
            how = f"at most the {before:,} rows so far"
        else:
            side = (join.args.get("side") or "").upper()
            rows = before * max(growth, 1) + (relation.rows if side in ("RIGHT", "FULL") else 0)
            fanout *= max(
                min(
                    max(sources[left].multiplicity(column), relation.multiplicity(right))
                    for left, column, right in pairs
                ),
                1,
            )
            how = f"{before:,} rows so far x up to {growth:,} rows per {key} of {alias}"
            sources[alias] = relation
        walk.produce(rows, f"the join of {_described(join.this)}", how)
    return _output(node, sources, rows, fanout, name)


def _filtered(
    relation: _Relation, alias: str, node: exp.Select, inner: bool, single: bool
) -> _Relation:
    """A source's rows after the WHERE equalities on its keys (`x.key = 'value'`, inner joins)."""
    where = node.args.get("where")
    if where is None or not inner:
        return relation
    rows = relation.rows
    for condition in _conjuncts(where.this):
        column, values = _key_filter(condition)
        if column is None or (column.table or (alias if single else "")) != alias:
            continue
        if column.name in relation.keys:
            rows = min(rows, relation.multiplicity(column.name) * values)
    per_key = {column: min(count, rows) for column, count in relation.per_key.items()}
    return _Relation(relation.name, rows, relation.keys, per_key)


def _key_filter(condition: exp.Expr) -> tuple[exp.Column | None, int]:
    """The column an equality (or IN list) with literals filters on, and how many values."""
    if isinstance(condition, exp.EQ):
        for column, value in (
            (condition.this, condition.expression),
            (condition.expression, condition.this),
        ):
            if isinstance(column, exp.Column) and isinstance(value, exp.Literal):
                return column, 1
    if (
        isinstance(condition, exp.In)
        and isinstance(condition.this, exp.Column)
        and condition.expressions
        and all(isinstance(value, exp.Literal) for value in condition.expressions)
    ):
        return condition.this, len(condition.expressions)
    return None, 0


def _conjuncts(condition: exp.Expr) -> list[exp.Expr]:
    while isinstance(condition, exp.Paren):
        condition = condition.this
    if isinstance(condition, exp.And):
        return [*_conjuncts(condition.this), *_conjuncts(condition.expression)]
    return [condition]


def _described(node: exp.Expr) -> str:
    if isinstance(node, exp.Subquery):
        return f"the subquery {node.alias}" if node.alias else "a subquery"
    if isinstance(node, exp.Table) and node.alias:
        return f"{node.name} AS {node.alias}"
    return node.sql()


def _key_pairs(
    join: exp.Join,
    alias: str,
    relation: _Relation,
    sources: Mapping[str, _Relation],
    walk: _Walk,
) -> list[tuple[str, str, str]]:
    """(earlier source, its key column, the joined side's key column) for each equality."""
    pairs = []
    method = (join.args.get("method") or "").upper()
    kind = (join.args.get("kind") or "").upper()
    condition = join.args.get("on")
    if method == "NATURAL":
        raise JoinError(_refusal(join, alias, relation, sources, walk, "a natural join"))
    if kind == "CROSS":
        raise JoinError(_refusal(join, alias, relation, sources, walk, "a cross join"))
    for identifier in join.args.get("using") or []:
        key = relation.keys.get(identifier.name)
        left = next(
            (
                source
                for source, offered in sources.items()
                if key and offered.keys.get(identifier.name) == key
            ),
            None,
        )
        if left is None:
            reason = f"{identifier.name} is not a declared key of both sides"
            raise JoinError(_refusal(join, alias, relation, sources, walk, reason))
        pairs.append((left, identifier.name, identifier.name))
    if pairs:
        return pairs
    if condition is None:
        reason = "no join condition: a cross join"
        raise JoinError(_refusal(join, alias, relation, sources, walk, reason))
    for equality in _conjuncts(condition):
        pair = _key_pair(equality, alias, relation, sources)
        if pair is None:
            reason = f"{equality.sql()} is not an equality of declared keys"
            raise JoinError(_refusal(join, alias, relation, sources, walk, reason))
        pairs.append(pair)
    return pairs


def _refusal(
    join: exp.Join,
    alias: str,
    relation: _Relation,
    sources: Mapping[str, _Relation],
    walk: _Walk,
    reason: str,
) -> str:
    """Why a join is refused: its text and what is wrong, and the keys it could have used."""
    text = join.sql().strip()
    if text.startswith(","):
        text, reason = f"FROM ...{text}", "a comma join or a JOIN without ON: a cross join"
    usable = [
        f"{source}.{column} = {alias}.{right}"
        for right, key in relation.keys.items()
        for source, offered in sources.items()
        for column, other in offered.keys.items()
        if other == key
    ]
    here = f"here: ON {usable[0]}" if usable else "these two sides share none"
    return (
        f"the join `{text}` is not allowed ({reason}): a join must equate the same declared key "
        f"on its two sides ({here}); {walk.declared()}"
    )


def _key_pair(
    equality: exp.Expr, alias: str, relation: _Relation, sources: Mapping[str, _Relation]
) -> tuple[str, str, str] | None:
    if not isinstance(equality, exp.EQ):
        return None
    columns = [equality.this, equality.expression]
    if not all(isinstance(column, exp.Column) and column.table for column in columns):
        return None
    right = [column for column in columns if column.table == alias]
    left = [column for column in columns if column.table != alias and column.table in sources]
    if len(right) != 1 or len(left) != 1:
        return None
    key = relation.keys.get(right[0].name)
    if key is None or sources[left[0].table].keys.get(left[0].name) != key:
        return None
    return left[0].table, left[0].name, right[0].name


def _output(
    node: exp.Select, sources: Mapping[str, _Relation], rows: int, fanout: int, name: str
) -> _Relation:
    """What a SELECT offers the query around it: its row bound and the keys it passes on.

    A name produced twice (`SELECT *, 'x' AS product_id`) passes no key on: Polars renames one
    of the two, and the key must not move to the other.
    """
    produced: dict[str, list[tuple[str, int, tuple[str, str]] | None]] = {}
    for projection in node.expressions:
        passed = list(_projected(projection, sources))
        if not passed and not isinstance(projection, exp.Star) and not _is_table_star(projection):
            produced.setdefault(projection.alias_or_name, []).append(None)
        for column, key, count, origin in passed:
            produced.setdefault(column, []).append((key, count * fanout, origin))
    found = {column: item for column, (item, *more) in produced.items() if item and not more}
    group = node.args.get("group")
    grouped = group.expressions if group else []
    if not grouped and any(_aggregates(projection) for projection in node.expressions):
        rows = 1
    unique = set()
    if len(grouped) == 1 and isinstance(grouped[0], exp.Column):
        origin = (_owner(grouped[0], sources), grouped[0].name)
        unique = {column for column, item in found.items() if item[2] == origin}
    if node.args.get("distinct") and len(node.expressions) == 1:
        unique.add(node.expressions[0].alias_or_name)
    keys = {column: item[0] for column, item in found.items()}
    per_key = {
        column: 1 if column in unique else min(item[1], rows) for column, item in found.items()
    }
    return _limited(node, _Relation(name, rows, keys, per_key))


def _is_table_star(projection: exp.Expr) -> bool:
    return isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)


def _aggregates(projection: exp.Expr) -> bool:
    """Whether a projection aggregates rows of its own SELECT (not of a nested query)."""
    return any(
        isinstance(item, exp.AggFunc)
        for item in projection.walk(prune=lambda item: isinstance(item, _QUERY))
    )


def _owner(column: exp.Column, sources: Mapping[str, _Relation]) -> str:
    """The source a column belongs to: its qualifier, or the only source of the SELECT."""
    return column.table or (next(iter(sources)) if len(sources) == 1 else "")


def _projected(
    projection: exp.Expr, sources: Mapping[str, _Relation]
) -> Iterator[tuple[str, str, int, tuple[str, str]]]:
    """(output name, declared key, rows per value, source column) per key a projection passes."""
    if isinstance(projection, exp.Star) or _is_table_star(projection):
        owners = list(sources) if isinstance(projection, exp.Star) else [projection.text("table")]
        for owner in owners:
            offered = sources.get(owner)
            for name, key in offered.keys.items() if offered else ():
                yield name, key, sources[owner].multiplicity(name), (owner, name)
        return
    column = projection.this if isinstance(projection, exp.Alias) else projection
    if not isinstance(column, exp.Column):
        return
    owner = _owner(column, sources)
    source = sources.get(owner)
    if source is not None and column.name in source.keys:
        count = source.multiplicity(column.name)
        yield projection.alias_or_name, source.keys[column.name], count, (owner, column.name)


def _limited(node: exp.Expr, relation: _Relation) -> _Relation:
    limit = node.args.get("limit")
    value = limit.expression if isinstance(limit, exp.Limit) else None
    if not (isinstance(value, exp.Literal) and value.is_int):
        return relation
    rows = min(relation.rows, int(value.this))
    per_key = {column: min(count, rows) for column, count in relation.per_key.items()}
    return _Relation(relation.name, rows, relation.keys, per_key)
