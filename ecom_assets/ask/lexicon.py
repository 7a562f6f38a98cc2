"""Words: turning a question into tokens and tokens into known phrases.

`normalize` lowercases a question, reads numbers ("five", "50k", "1.2m", "$50,000") and splits it
into tokens. A `Lexicon` joins the semantic model's words, a small grammar of question words
(rankings, comparisons, counts, time) and the values found in the data (categories, products,
buckets, actions) into one phrase index; `match` covers the tokens with the longest known
phrases, after correcting typos against the whole vocabulary with difflib.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ecom_assets.ask.model import SemanticModel

NUMBER_WORDS = {
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "fifty": 50,
    "hundred": 100,
    "dozen": 12,
}
MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}

# The grammar of questions: keyword group -> phrases separated by "|". Business words live in
# the model.
_KEYWORD_TEXT = {
    "desc": (
        "top|highest|most|best|largest|biggest|greatest|maximum|max|leading|strongest|"
        "highest to lowest|descending"
    ),
    "asc": (
        "bottom|lowest|least|worst|smallest|fewest|minimum|min|weakest|poorest|"
        "lowest to highest|ascending"
    ),
    "agg_sum": "total|sum|sum of|overall|combined|in total|altogether|how much",
    "agg_avg": "average|avg|mean|typical|on average",
    "agg_median": "median",
    "count": "how many|number of|count|count of|count the|amount of",
    "compare": (
        "compare|comparison|vs|versus|against|compared to|compared with|"
        "actual and predicted|actual vs predicted|actual versus predicted|"
        "actual and predicted revenue|actual vs predicted revenue|actual and forecast|"
        "actual versus predicted revenue|predicted vs actual|predicted and actual|"
        "forecast vs actual|actual vs forecast|actual and forecasted revenue"
    ),
    "detail": (
        "what should we do about|what should we do with|what to do about|what to do with|"
        "what do we do about|what do we do with|what should i do about|"
        "what should i do with|what is the recommendation for|"
        "whats the recommendation for|recommendation for|tell me about|details for|"
        "details of|details on|details about|facts about|info on|information on|"
        "information about|how is|how are|how about doing"
    ),
    "time_month": (
        "monthly|by month|per month|each month|every month|month by month|over time|"
        "trend|trends|timeline|month over month|per calendar month"
    ),
    "time_year": "yearly|annual|annually|by year|per year|each year|year by year|year over year",
    "recent": "last|past|previous|latest|recent|most recent",
    "this_year": "this year|current year|year to date|ytd",
    "last_year": "last year|previous year|prior year",
    "last_month": "last month|latest month|this month|most recent month|current month",
    "group": ("by|per|for each|each|for every|across|broken down by|grouped by|split by|by each"),
    "first": "first",
    "followup": (
        "now|instead|also|only|just|what about|how about|same for|same but|and now|ok|"
        "okay|then|but|rather"
    ),
    "gt": (
        "above|over|more than|greater than|higher than|exceeding|exceeds|exceed|"
        "bigger than|larger than|>|beyond|upwards of"
    ),
    "ge": "at least|>=|no less than|or more|or higher|or above|minimum of",
    "lt": "below|under|less than|lower than|smaller than|fewer than|<|beneath",
    "le": "at most|<=|no more than|or less|or lower|or below|maximum of|up to",
    "eq": "equal to|equals|exactly|=|equal",
    "between": "between",
    "none": "no|zero|without any|without",
    "all_category": "all categories|every category|any category|all the categories",
    "all_product": "all products|every product|any product",
}
KEYWORDS: dict[str, tuple[str, ...]] = {
    **{group: tuple(text.split("|")) for group, text in _KEYWORD_TEXT.items()},
    "month_name": tuple(MONTHS),
}
_FILLER_WORDS = """
    a an the of in on for with to from and or that which what whats who whose where when are is
    was were be been being do does did have has had having we our us i me my you your it its
    they their them this these those there here show list give get find display tell see view
    return please can could would should will shall might must need needs require requires
    required want like let lets currently right so far as at into some any all every than
    within along about also sold selling
    sell sells make made generate generated bring earn earned value values data figures numbers
    number amount much many whole entire each one ones respectively thanks thank look looking
    over time period periods next coming upcoming kind kinds type types store shop doing select
    pick choose
"""
FILLER = frozenset(_FILLER_WORDS.split()) | frozenset(
    {
        "predicted to",
        "expected to",
        "forecast to",
        "projected to",
        "going to",
        "likely to",
        "set to",
        "is there",
        "are there",
        "thank you",
        "right now",
    }
)
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[a-z]+|[<>]=?|=")
_NUMBER = re.compile(
    r"(?<![\w.])\$?(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"(?:(k|m|bn)\b|\s+(thousand|million|billion)\b)?%?",
    re.IGNORECASE,
)
_SCALE = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "bn": 1e9, "billion": 1e9}
_APOSTROPHE = re.compile("(?<=\\w)['\u2019`](?=\\w)")
_KIND_PRIORITY = ("literal", "value", "segment", "metric", "dimension", "keyword", "filler")


def _number_text(match: re.Match[str]) -> str:
    value = float(match.group(1).replace(",", ""))
    scale = (match.group(2) or match.group(3) or "").lower()
    value = round(value * _SCALE.get(scale, 1.0), 6)
    text = str(int(value)) if value.is_integer() else repr(value)
    return f" {text} "


def normalize(text: str) -> list[str]:
    """The lowercase tokens of a question, numbers in digits (`top five` -> `top 5`)."""
    text = _APOSTROPHE.sub("", text.replace("&", " and "))
    text = _NUMBER.sub(_number_text, text).lower()
    tokens = _TOKEN.findall(text)
    return [str(NUMBER_WORDS[token]) if token in NUMBER_WORDS else token for token in tokens]


def phrase_tokens(text: str) -> tuple[str, ...]:
    """The tokens of a phrase or data value, normalized like questions."""
    return tuple(normalize(text))


def is_number(token: str) -> bool:
    """Whether a token is a number."""
    return bool(token) and (token[0].isdigit() or token[0] == ".")


@dataclass(frozen=True)
class Entry:
    """What a phrase means: its kind (metric, segment, value...), key and payload."""

    kind: str
    key: str
    payload: Any = None


@dataclass
class Item:
    """A span of tokens with its meaning; `text` is the user's own words for it."""

    kind: str
    key: str
    start: int
    end: int
    text: str
    value: Any = None
    used: bool = False


@dataclass
class Lexicon:
    """The phrase index over the model's words, the grammar and the data's values."""

    model: SemanticModel
    values: Mapping[str, Sequence[str]]
    latest_month: date | None = None
    phrases: dict[tuple[str, ...], list[Entry]] = field(default_factory=dict)
    vocabulary: list[str] = field(default_factory=list)
    value_tokens: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    value_words: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        model = self.model
        for group, phrases in KEYWORDS.items():
            self._add(phrases, Entry("keyword", group))
        self._add(FILLER, Entry("filler", "filler"))
        for metric in model.metrics.values():
            self._add(metric.synonyms, Entry("metric", metric.name))
        for dimension in model.dimensions.values():
            self._add(dimension.synonyms, Entry("dimension", dimension.name))
        for segment in model.segments.values():
            self._add(segment.phrases, Entry("segment", segment.name))
        for dim_name, values in self.values.items():
            dimension = model.dimensions[dim_name]
            index = self.value_tokens.setdefault(dim_name, {})
            for value in values:
                tokens = phrase_tokens(value)
                if not tokens:
                    continue
                index[value] = tokens
                patterns = dimension.value_phrases or ("{value}",)
                self._add(
                    (pattern.format(value=value) for pattern in patterns),
                    Entry("value", dim_name, value),
                )
        self.value_words = frozenset(
            token
            for dim in ("product", "category")
            for tokens in self.value_tokens.get(dim, {}).values()
            for token in tokens
        )
        words = {token for phrase in self.phrases for token in phrase if not is_number(token)}
        self.vocabulary = sorted(words | set(NUMBER_WORDS) | set(MONTHS))

    def _add(self, phrases: Iterable[str], entry: Entry) -> None:
        for phrase in phrases:
            tokens = phrase_tokens(phrase)
            if tokens:
                entries = self.phrases.setdefault(tokens, [])
                if entry not in entries:
                    entries.append(entry)
                    entries.sort(key=lambda item: _KIND_PRIORITY.index(item.kind))

    def correct(self, tokens: Sequence[str]) -> list[str]:
        """Tokens with typos replaced by the closest known word (`electornics` -> `electronics`)."""
        known = set(self.vocabulary)
        corrected = []
        for token in tokens:
            if token in known or is_number(token) or len(token) < 4 or not token.isalpha():
                corrected.append(token)
                continue
            close = difflib.get_close_matches(token, self.vocabulary, n=1, cutoff=0.8)
            corrected.append(close[0] if close else token)
        return corrected

    def match(self, tokens: Sequence[str], originals: Sequence[str]) -> list[Item]:
        """Cover the tokens with the longest known phrases; the rest are numbers or unknown."""
        longest = max((len(phrase) for phrase in self.phrases), default=1)
        items: list[Item] = []
        position = 0
        while position < len(tokens):
            for size in range(min(longest, len(tokens) - position), 0, -1):
                entries = self.phrases.get(tuple(tokens[position : position + size]))
                if entries:
                    entry = entries[0]
                    text = " ".join(originals[position : position + size])
                    items.append(
                        Item(entry.kind, entry.key, position, position + size, text, entry.payload)
                    )
                    position += size
                    break
            else:
                token = tokens[position]
                kind = "number" if is_number(token) else "unknown"
                value = float(token) if kind == "number" else token
                items.append(Item(kind, token, position, position + 1, originals[position], value))
                position += 1
        return items

    def partial_values(self, words: Sequence[str]) -> tuple[str, list[str]] | None:
        """The dimension and values a run of words partly names (`nimbus kettle`), if any."""
        run = tuple(words)
        products = self._ranked("product", run, need_noun=True)
        if products:
            return "product", products
        categories = self._ranked("category", run, need_noun=False)
        if categories:
            return "category", categories
        return None

    def _ranked(self, dim: str, run: tuple[str, ...], need_noun: bool) -> list[str]:
        scores: dict[str, float] = {}
        for value, tokens in self.value_tokens.get(dim, {}).items():
            significant = tuple(token for token in tokens if token != "and")
            if not _is_subsequence(run, significant):
                continue
            if need_noun and len(run) < 2 and not (run[-1] == significant[-1] and len(run[-1]) > 2):
                continue
            scores[value] = len(run) / len(significant)
        best = max(scores.values(), default=0.0)
        return sorted(value for value, score in scores.items() if score == best and best > 0)

    def is_value_word(self, token: str) -> bool:
        """Whether a token appears in a product or category name."""
        return token in self.value_words

    def resolve(self, dim: str, text: str) -> str | None:
        """The data value a user's text names for a dimension (case and typo tolerant)."""
        tokens = phrase_tokens(text)
        index = self.value_tokens.get(dim, {})
        for value, value_tokens in index.items():
            if value_tokens == tokens or value.lower() == text.strip().lower():
                return value
        names = {" ".join(value_tokens): value for value, value_tokens in index.items()}
        close = difflib.get_close_matches(" ".join(tokens), list(names), n=1, cutoff=0.85)
        return names[close[0]] if close else None

    def similar_values(self, word: str, limit: int = 5) -> list[str]:
        """Product or category names with a word like this one, for "did you mean" hints."""
        words = sorted(self.value_words)
        close = set(difflib.get_close_matches(word, words, n=3, cutoff=0.75))
        found = [
            value
            for dim in ("category", "product")
            for value, tokens in self.value_tokens.get(dim, {}).items()
            if close & set(tokens)
        ]
        return found[:limit]


def _is_subsequence(run: Sequence[str], tokens: Sequence[str]) -> bool:
    position = 0
    for token in run:
        try:
            position = list(tokens).index(token, position) + 1
        except ValueError:
            return False
    return True
