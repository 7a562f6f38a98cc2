"""The rules parser: a plain-English question to a query plan, or a clear "not understood".

The question is tokenized and covered by known phrases (`lexicon`); the covered items are read
in order: comparisons (`rating below 3.5`), time windows (`last 3 months`, `in 2025`), limits
(`top five`), groups (`by category`), metrics, segments (`need a discount`), data values
(`electronic` -> Electronics, `nimbus kettle` -> Nimbus Electric Kettle) and cue words (how many,
compare, what should we do about) into `Parts`, which `planner` turns into a plan, or into an
edit of the previous plan for a follow-up (`now only Electronics`). Verified templates are
matched first. Any word left unexplained makes the question not understood: the parser never
guesses a different question.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from ecom_assets.ask.answer import describe_filter
from ecom_assets.ask.lexicon import MONTHS, Item, Lexicon, normalize
from ecom_assets.ask.model import SemanticModel
from ecom_assets.ask.plan import Filter, PlanError, QueryPlan, plan_from_dict
from ecom_assets.ask.planner import Parts, add_filter, apply_followup, build_plan

_COMPARATORS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "eq": "="}
_AFTER_NUMBER = ("or more", "or higher", "or above", "or less", "or lower", "or below")
_LITERAL_KEY = re.compile(
    r"\b(categor(?:y|ies)|products?|bucket|action)\s+(?:is\s+|=\s*|named\s+|called\s+)?",
    re.IGNORECASE,
)
_SUSPICIOUS = re.compile(r"""["';\\]|--|/\*""")
_APOSTROPHE = re.compile(r"(?<=\w)['\u2019](?=\w)")
_LITERAL_DIMS = {
    "category": "category",
    "categories": "category",
    "product": "product",
    "products": "product",
    "bucket": "bucket",
    "action": "action",
}
_PLACEHOLDER = "zzliteral"
_AGG_WORDS = ("average", "avg", "mean", "total", "median", "sum")
_CUE_KEYWORDS = ("count", "compare", "detail", "time_month", "time_year", "followup")


@dataclass(frozen=True)
class Literal:
    """A value the user quoted or wrote after `category`/`product`: never parsed as words."""

    dim: str
    text: str


@dataclass(frozen=True)
class ParseResult:
    """A plan, or why there is none; `understood` lists what was understood either way."""

    plan: QueryPlan | None
    understood: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    suggestions: tuple[str, ...] = ()
    followup: bool = False
    verified: bool = False


def extract_literals(text: str) -> tuple[str, list[Literal]]:
    """The question with quoted or SQL-looking values cut out, and those values.

    After `category`, `product`, `bucket` or `action`, a quoted value is taken as written, and
    a value with quotes, semicolons or comment marks runs to the end of the question: it is data
    to look up, never words to interpret.
    """
    literals: list[Literal] = []
    position = 0
    while len(literals) < 26 and (match := _LITERAL_KEY.search(text, position)):
        rest = text[match.end() :]
        literal, end = None, match.end()
        if rest[:1] in ("'", '"'):
            close = rest.find(rest[0], 1)
            if close > 0 and (close + 1 == len(rest) or not rest[close + 1].isalnum()):
                literal, end = rest[1:close], match.end() + close + 1
            else:
                literal, end = rest[1:], len(text)
        elif rest.strip() and _SUSPICIOUS.search(_APOSTROPHE.sub("", rest.split()[0])):
            literal, end = rest, len(text)
        if literal is None or not literal.strip():
            position = match.end()
            continue
        dim = _LITERAL_DIMS[match.group(1).lower()]
        literals.append(Literal(dim, literal.strip().rstrip("?").strip()))
        placeholder = f" {_PLACEHOLDER}{chr(ord('a') + len(literals) - 1)} "
        text = text[: match.end()] + placeholder + text[end:]
        position = match.end() + len(placeholder)
    return text, literals


class Parser:
    """Questions to plans with the rules of the module docstring."""

    def __init__(self, model: SemanticModel, lexicon: Lexicon) -> None:
        self.model = model
        self.lexicon = lexicon

    def tokens(self, text: str) -> tuple[list[str], list[str]]:
        """The question's tokens as written and with typos corrected."""
        originals = normalize(text)
        corrected = [
            token if token.startswith(_PLACEHOLDER) else fixed
            for token, fixed in zip(originals, self.lexicon.correct(originals), strict=True)
        ]
        return originals, corrected

    def items(
        self, originals: list[str], corrected: list[str], literals: Sequence[Literal]
    ) -> list[Item]:
        """The question's items: known phrases, numbers, literal values and unknown words."""
        items = self.lexicon.match(corrected, originals)
        for item in items:
            if item.kind == "unknown" and item.key.startswith(_PLACEHOLDER):
                literal = literals[ord(item.key.removeprefix(_PLACEHOLDER)) - ord("a")]
                item.kind, item.key, item.text = "literal", literal.dim, literal.text
                item.value = literal.text
        return self._partial_values(items)

    def _partial_values(self, items: list[Item]) -> list[Item]:
        """Runs of unknown words from product or category names become values."""
        result: list[Item] = []
        run: list[Item] = []

        def flush() -> None:
            start = 0
            while start < len(run):
                for end in range(len(run), start, -1):
                    words = [item.key for item in run[start:end]]
                    if len(words) == 1 and words != normalize(run[start].text):
                        continue
                    found = self.lexicon.partial_values(words)
                    if found:
                        dim, values = found
                        text = " ".join(item.text for item in run[start:end])
                        first, last = run[start], run[end - 1]
                        result.append(Item("value", dim, first.start, last.end, text, values))
                        start = end
                        break
                else:
                    result.append(run[start])
                    start += 1
            run.clear()

        for item in items:
            if item.kind == "unknown" and self.lexicon.is_value_word(item.key):
                run.append(item)
                continue
            flush()
            result.append(item)
        flush()
        return result

    def read(self, items: list[Item]) -> Parts:
        """What the items say, in order (see the module docstring)."""
        parts = Parts()
        significant = [item for item in items if item.kind != "filler"]
        self._comparisons(significant, parts)
        self._time_windows(significant, parts)
        for index, item in enumerate(significant):
            if not item.used:
                self._read_item(significant, index, parts)
        unknown_run: list[str] = []
        for item in items:
            if item.kind == "unknown" and not item.used:
                unknown_run.append(item.text)
            elif unknown_run:
                parts.unknown.append(" ".join(unknown_run))
                unknown_run = []
        if unknown_run:
            parts.unknown.append(" ".join(unknown_run))
        return parts

    def _comparisons(self, items: list[Item], parts: Parts) -> None:
        for index, item in enumerate(items):
            if item.kind != "keyword" or item.used:
                continue
            if item.key == "between":
                numbers = items[index + 1 : index + 3]
                if len(numbers) == 2 and all(entry.kind == "number" for entry in numbers):
                    metric = self._metric_near(items, index, index + 2)
                    if metric is None:
                        parts.problems.append(f"which measure should be {item.text} those numbers?")
                        continue
                    low, high = sorted(_number(entry) for entry in numbers)
                    parts.filters += [Filter(metric, ">=", low), Filter(metric, "<=", high)]
                    item.used = numbers[0].used = numbers[1].used = True
                continue
            if item.key == "none":
                following = items[index + 1] if index + 1 < len(items) else None
                if following is not None and following.kind == "metric" and not following.used:
                    parts.filters.append(Filter(following.key, "=", 0))
                    item.used = following.used = True
                continue
            if item.key not in _COMPARATORS:
                continue
            op = _COMPARATORS[item.key]
            after = item.text.lower() in _AFTER_NUMBER
            number_index = index - 1 if after else index + 1
            if after and number_index >= 0 and items[number_index].kind == "metric":
                number_index -= 1
            if not 0 <= number_index < len(items) or items[number_index].kind != "number":
                parts.problems.append(f"'{item.text}' needs a number after it")
                item.used = True
                continue
            metric = self._metric_near(items, min(index, number_index), max(index, number_index))
            if metric is None:
                parts.problems.append(
                    f"which measure should be {item.text} {items[number_index].text}?"
                )
                item.used = items[number_index].used = True
                continue
            parts.filters.append(Filter(metric, op, _number(items[number_index])))
            item.used = items[number_index].used = True

    @staticmethod
    def _metric_near(items: list[Item], first: int, last: int) -> str | None:
        """The metric before `first` or after `last` (`rating below 3`, `over 5 orders`)."""
        for position in (first - 1, last + 1, first + 1):
            if 0 <= position < len(items):
                candidate = items[position]
                if candidate.kind == "metric" and not candidate.used:
                    candidate.used = True
                    return candidate.key
        return None

    def _time_windows(self, items: list[Item], parts: Parts) -> None:
        latest = self.lexicon.latest_month
        for index, item in enumerate(items):
            if item.kind != "keyword" or item.used:
                continue
            following = items[index + 1 : index + 3]
            if item.key == "recent" and following:
                count = 1
                if following[0].kind == "number" and len(following) > 1:
                    count, unit = int(float(following[0].value)), following[1]
                else:
                    unit = following[0]
                if unit.kind == "dimension" and unit.key == "month" and count >= 1:
                    if latest is None:
                        parts.problems.append("there is no monthly data for a time window")
                    else:
                        start = _months_before(latest, count - 1)
                        parts.filters.append(Filter("month", ">=", start))
                    item.used = unit.used = True
                    if following[0] is not unit:
                        following[0].used = True
                else:
                    item.used = True
                    parts.unknown.append(item.text)
            elif item.key in ("this_year", "last_year", "last_month"):
                item.used = True
                if latest is None:
                    parts.problems.append("there is no monthly data for a time window")
                elif item.key == "last_month":
                    parts.filters.append(Filter("month", "=", latest))
                else:
                    year = latest.year - (item.key == "last_year")
                    parts.filters.append(Filter("year", "=", year))
            elif item.key == "month_name":
                year_item = following[0] if following else None
                if year_item is not None and year_item.kind == "number" and _is_year(year_item):
                    month = date(int(float(year_item.value)), _month_number(item.text), 1)
                    parts.filters.append(Filter("month", "=", month))
                    item.used = year_item.used = True

    def _read_item(self, items: list[Item], index: int, parts: Parts) -> None:
        item = items[index]
        before = items[index - 1] if index > 0 else None
        after = items[index + 1] if index + 1 < len(items) else None
        item.used = True
        if item.kind == "number":
            self._read_number(item, before, after, parts)
        elif item.kind == "metric":
            if item.key not in parts.metrics:
                parts.metrics.append(item.key)
            first_word = item.text.lower().split()[0]
            parts.agg_hint = parts.agg_hint or first_word in _AGG_WORDS
        elif item.kind == "dimension":
            self._read_dimension(item, before, after, parts)
        elif item.kind in ("value", "literal"):
            self._read_value(item, parts)
        elif item.kind == "segment":
            segment = self.model.segments[item.key]
            for condition in segment.filters:
                add_filter(parts, condition)
            if segment.order is not None and parts.segment_order is None:
                parts.segment_order = segment.order
                parts.ranking = parts.ranking or segment.ranking
        elif item.kind == "keyword":
            self._read_keyword(item, after, parts)
        elif item.kind == "unknown":
            item.used = False

    def _read_number(
        self, item: Item, before: Item | None, after: Item | None, parts: Parts
    ) -> None:
        value = float(item.value)
        ranking_word = (
            before is not None
            and before.kind == "keyword"
            and before.key
            in (
                "desc",
                "asc",
                "first",
            )
        )
        before_entity = after is not None and (
            (after.kind == "dimension" and not self.model.dimensions[after.key].time)
            or after.kind == "segment"
        )
        if value.is_integer() and value >= 1 and (ranking_word or before_entity):
            parts.limit = int(value)
        elif _is_year(item):
            add_filter(parts, Filter("year", "=", int(value)))
        else:
            item.used = False
            item.kind = "unknown"

    def _read_dimension(
        self, item: Item, before: Item | None, after: Item | None, parts: Parts
    ) -> None:
        for neighbour in (after, before):
            if neighbour and neighbour.kind in ("value", "literal") and neighbour.key == item.key:
                return
        if before is not None and before.kind == "keyword" and before.key == "group":
            if item.key not in parts.group_by:
                parts.group_by.append(item.key)
            return
        if parts.entity is None:
            parts.entity = item.key
            parts.entity_plural = item.text.lower().endswith("s")
        elif item.key != parts.entity and item.key not in parts.group_by:
            parts.group_by.append(item.key)

    def _read_value(self, item: Item, parts: Parts) -> None:
        if item.kind == "literal":
            found = self.lexicon.resolve(item.key, item.text)
            if found is None:
                parts.notes.append(
                    f"no {self.model.dimensions[item.key].label} is called {item.text!r}"
                )
            add_filter(parts, Filter(item.key, "=", found or item.text))
            return
        values = item.value if isinstance(item.value, list) else [item.value]
        for value in values:
            add_filter(parts, Filter(item.key, "=", value))

    def _read_keyword(self, item: Item, after: Item | None, parts: Parts) -> None:
        key = item.key
        if key in ("desc", "asc"):
            if parts.descending is None:
                parts.descending = key == "desc"
        elif key.startswith("agg_"):
            parts.aggregation = parts.aggregation or key.removeprefix("agg_")
        elif key == "group":
            if after is not None and after.kind == "metric" and not after.used:
                after.used = True
                parts.rank_metric = after.key
                if after.key not in parts.metrics:
                    parts.metrics.append(after.key)
            elif after is not None and after.kind == "segment":
                return
        elif key in _CUE_KEYWORDS:
            parts.cues.add(key)
        elif key.startswith("all_"):
            parts.cleared.add(key.removeprefix("all_"))
        elif key in ("first", "recent") or (key == "month_name" and item.text.lower() == "may"):
            return
        else:
            item.used = False
            item.kind = "unknown"

    def parse(self, question: str, previous: QueryPlan | None = None) -> ParseResult:
        """The plan a question asks for, or a result saying what was and was not understood."""
        text, literals = extract_literals(question)
        originals, corrected = self.tokens(text)
        template = self._template(corrected)
        items = self.items(originals, corrected, literals)
        if template is not None:
            return ParseResult(template, understood=("a verified question",), verified=True)
        parts = self.read(items)
        understood = tuple(self.describe_parts(parts))
        problems = list(parts.problems)
        if parts.unknown:
            words = ", ".join(repr(word) for word in parts.unknown)
            problems.append(f"I do not know {words}")
        followup = previous is not None and (
            "followup" in parts.cues or (not parts.has_subject() and not parts.is_empty())
        )
        if not problems and parts.is_empty():
            problems.append("I could not find a measure, a filter or a grouping in the question")
        if problems:
            return ParseResult(None, understood, tuple(problems), tuple(parts.notes))
        try:
            if followup and previous is not None:
                plan = apply_followup(previous, parts, self.model)
            else:
                plan = build_plan(parts, self.model)
        except PlanError as error:
            return ParseResult(None, understood, (str(error),), tuple(parts.notes))
        return ParseResult(plan, understood, (), tuple(parts.notes), followup=followup)

    def describe_parts(self, parts: Parts) -> list[str]:
        """What was understood, in words, for a "not understood" answer."""
        model = self.model
        pieces = [f"measure: {model.label(name)}" for name in parts.metrics]
        pieces += [f"filter: {describe_filter(item, model)}" for item in parts.filters]
        pieces += [f"grouped by {model.label(name)}" for name in parts.group_by]
        if parts.entity:
            pieces.append(f"about {model.dimensions[parts.entity].plural}")
        if parts.descending is not None:
            pieces.append("highest first" if parts.descending else "lowest first")
        if parts.limit:
            pieces.append(f"limit {parts.limit}")
        pieces += [f"cue: {cue}" for cue in sorted(parts.cues)]
        return pieces

    def _template(self, corrected: list[str]) -> QueryPlan | None:
        tokens = " ".join(corrected)
        for template in self.model.templates:
            pattern = " ".join(normalize(template.question))
            pattern = re.escape(pattern).replace(r"\{", "{").replace(r"\}", "}")
            slots = re.findall(r"\{(\w+)\}", pattern)
            regex = re.sub(r"\{(\w+)\}", r"(?P<\1>.+)", pattern)
            match = re.fullmatch(regex, tokens)
            if match is None:
                continue
            values = {}
            for slot in slots:
                found = self._slot_value(slot, match.group(slot))
                if found is None:
                    break
                values[slot] = found
            else:
                return plan_from_dict(_fill(template.plan, values))
        return None

    def _slot_value(self, slot: str, text: str) -> str | None:
        found = self.lexicon.resolve(slot, text)
        if found is not None:
            return found
        partial = self.lexicon.partial_values(text.split())
        if partial is not None and partial[0] == slot and len(partial[1]) == 1:
            return partial[1][0]
        return None


def _fill(plan: object, values: dict[str, str]) -> object:
    if isinstance(plan, str):
        for slot, value in values.items():
            if plan == f"{{{slot}}}":
                return value
        return plan
    if isinstance(plan, list):
        return [_fill(item, values) for item in plan]
    if isinstance(plan, dict):
        return {key: _fill(item, values) for key, item in plan.items()}
    return plan


def _number(item: Item) -> int | float:
    value = float(item.value)
    return int(value) if value.is_integer() else value


def _is_year(item: Item) -> bool:
    value = float(item.value)
    return value.is_integer() and 1990 <= value <= 2100


def _month_number(text: str) -> int:
    return MONTHS[normalize(text)[0]]


def _months_before(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)
