"""The engine: tables in memory, a question in, an answer with the SQL it ran out.

`Asker` loads the tables once (through `ecom_assets.tables`, or frames injected by tests), reads
the data's values for the vocabulary and the sizes of the tables' join keys, and answers
questions: SQL typed by the user is validated and run; anything else is screened, parsed by the
rules (or, when the rules give up and a language model is configured, planned by it), compiled
to one SELECT, validated by the safety gate and run. Every query runs through `execute`, in the
query worker process within the time limit (`ECOM_ASK_TIMEOUT`); the gate has refused beforehand
any query that can make more rows than the row budget (`ECOM_ASK_ROW_BUDGET`). It keeps the last
plan so follow-ups can edit it.
"""

from __future__ import annotations

import difflib
import os
import re
import uuid
import weakref
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date

import polars as pl

from ecom_assets import tables
from ecom_assets.ask import llm
from ecom_assets.ask.answer import Answer, describe_plan, summarize
from ecom_assets.ask.compiler import check_plan, compile_plan
from ecom_assets.ask.joins import table_sizes
from ecom_assets.ask.lexicon import Lexicon
from ecom_assets.ask.model import SemanticModel, load_model
from ecom_assets.ask.parser import Parser, ParseResult, extract_literals
from ecom_assets.ask.plan import Filter, PlanError, QueryPlan, plan_from_dict
from ecom_assets.ask.safety import (
    MAX_QUESTION_CHARS,
    UnsafeQueryError,
    looks_like_sql,
    screen_question,
    validate_sql,
)
from ecom_assets.ask.worker import WORKER, QueryFailed, QueryTimeout, QueryWorker

TABLE_NAMES = ("product_decisions", "product_metrics", "category_metrics", "monthly_sales")
_VALUE_DIMS = ("product", "category", "bucket", "action")
_PLAIN_WORDS = re.compile(r"[^*;()=,'\"<>_]*")
TIMEOUT_ENV = "ECOM_ASK_TIMEOUT"
ROW_BUDGET_ENV = "ECOM_ASK_ROW_BUDGET"


def load_frames(lake_root: str | None = None) -> dict[str, pl.DataFrame]:
    """The tables the assistant reads, from the lake; raises TableMissingError if none exist."""
    frames: dict[str, pl.DataFrame] = {}
    missing: list[str] = []
    for name in TABLE_NAMES:
        try:
            frames[name] = tables.read(name, lake_root)
        except tables.TableMissingError as error:
            missing.append(str(error))
    if not frames:
        raise tables.TableMissingError(missing[0])
    return frames


def _setting(name: str, parse: Callable[[str], float], default: float) -> float:
    """A positive number from the environment, or the default when unset or not one."""
    try:
        value = parse(os.environ.get(name) or "")
    except ValueError:
        return default
    return value if value > 0 else default


class Asker:
    """Answers questions over the loaded tables; remembers the last plan for follow-ups.

    `timeout` (seconds) and `row_budget` default to `ECOM_ASK_TIMEOUT` and
    `ECOM_ASK_ROW_BUDGET`, else to the semantic model's `timeout_seconds` and `row_budget`;
    `worker` to the process's shared query worker.
    """

    def __init__(
        self,
        lake_root: str | None = None,
        frames: Mapping[str, pl.DataFrame] | None = None,
        *,
        timeout: float | None = None,
        row_budget: int | None = None,
        worker: QueryWorker | None = None,
    ) -> None:
        self.worker = worker or WORKER
        self.worker.start()
        self.model: SemanticModel = load_model()
        loaded = frames if frames is not None else load_frames(lake_root)
        self.frames = {name: frame for name, frame in loaded.items() if name in self.model.tables}
        self.columns = {name: list(frame.columns) for name, frame in self.frames.items()}
        self.sizes = table_sizes(self.frames, self.model.join_keys)
        self.timeout = timeout or _setting(TIMEOUT_ENV, float, self.model.timeout_seconds)
        self.row_budget = row_budget or int(_setting(ROW_BUDGET_ENV, int, self.model.row_budget))
        self._token = uuid.uuid4().hex
        weakref.finalize(self, self.worker.forget, self._token)
        self.lexicon = Lexicon(self.model, self._values(), self._latest_month())
        self.parser = Parser(self.model, self.lexicon)
        self.previous: QueryPlan | None = None

    def _values(self) -> dict[str, list[str]]:
        values: dict[str, list[str]] = {}
        for dim in _VALUE_DIMS:
            column = self.model.dimensions[dim].column
            found = [
                frame.select(pl.col(column).cast(pl.String))
                for frame in self.frames.values()
                if column in frame.columns
            ]
            if found:
                unique = pl.concat(found).unique().drop_nulls().sort(column)
                values[dim] = unique.to_series().to_list()
        return values

    def _latest_month(self) -> date | None:
        frame = self.frames.get("monthly_sales")
        if frame is None or frame.height == 0 or "month" not in frame.columns:
            return None
        latest = frame["month"].max()
        return latest if isinstance(latest, date) else None

    def reset(self) -> None:
        """Forget the previous plan (the next question is not a follow-up)."""
        self.previous = None

    def ask(self, question: str) -> Answer:
        """The answer to a question in plain English, or to a SQL SELECT."""
        text = question.strip()
        if not text:
            return self._not_understood(question, ParseResult(None, problems=("empty question",)))
        if len(text) > MAX_QUESTION_CHARS:
            return self._refused(question, screen_question(text) or "question too long")
        if looks_like_sql(text):
            answer = self._run_sql(question, text)
            if not (answer.refused and _PLAIN_WORDS.fullmatch(text)):
                return answer
        remainder, _ = extract_literals(text)
        reason = screen_question(remainder)
        if reason is not None:
            return self._refused(question, reason)
        result = self.parser.parse(text, self.previous)
        if result.plan is None:
            return self._fallback(question, result)
        answer = self._run_plan(question, result.plan, "rules", result.notes)
        if result.verified and answer.understood:
            answer = replace(answer, interpretation=f"{answer.interpretation}, a verified question")
        return answer

    def _fallback(self, question: str, result: ParseResult) -> Answer:
        config = llm.config_from_env()
        if config is None:
            return self._not_understood(question, result)
        try:
            plan = plan_from_dict(llm.request_plan(question, self.model, config))
            checked = self._check(plan)
        except (llm.LLMError, PlanError) as error:
            note = f"A language model was asked too, but its plan was refused: {error}"
            return self._not_understood(question, result, note)
        answer = self._run_plan(question, checked, "llm", ())
        if not answer.understood:
            note = f"A language model was asked too, but its plan was refused: {answer.answer}"
            return self._not_understood(question, result, note)
        return answer

    def _resolve_values(self, plan: QueryPlan) -> QueryPlan:
        """Filter values named loosely (`electronics`) become the data's values (`Electronics`)."""
        filters = []
        for item in plan.filters:
            if item.column in _VALUE_DIMS and isinstance(item.value, str | tuple):
                values = item.value if isinstance(item.value, tuple) else (item.value,)
                resolved = tuple(
                    self.lexicon.resolve(item.column, str(value)) or value for value in values
                )
                value = resolved if isinstance(item.value, tuple) else resolved[0]
                item = Filter(item.column, item.op, value, item.on_aggregate)
            filters.append(item)
        return plan.with_changes(filters=tuple(filters))

    def _check(self, plan: QueryPlan) -> QueryPlan:
        return check_plan(self._resolve_values(plan), self.model, self.columns)

    def _run_plan(
        self, question: str, plan: QueryPlan, source: str, notes: tuple[str, ...]
    ) -> Answer:
        try:
            checked = self._check(plan)
            sql = self._validate(compile_plan(checked, self.model))
        except PlanError as error:
            return self._not_understood(question, ParseResult(None, problems=(str(error),)))
        except UnsafeQueryError as error:
            return self._refused(question, str(error))
        frame = self._execute(question, sql)
        if isinstance(frame, Answer):
            return frame
        self.previous = checked
        sentence = summarize(checked, self.model, frame)
        if notes:
            sentence += " Note: " + "; ".join(notes) + "."
        return Answer(
            question=question,
            interpretation=describe_plan(checked, self.model),
            sql=sql,
            columns=list(frame.columns),
            rows=[list(row) for row in frame.rows()],
            answer=sentence,
            source=source,
        )

    def _validate(self, sql: str) -> str:
        return validate_sql(
            sql,
            self.columns,
            self.model.max_rows,
            join_keys=self.model.join_keys,
            sizes=self.sizes,
            row_budget=self.row_budget,
        )

    def execute(self, sql: str) -> pl.DataFrame:
        """The rows of a validated query, run in the query worker within the time limit.

        The one place queries run. Raises QueryTimeout (the query was stopped) or QueryFailed.
        """
        return self.worker.run(self._token, self.frames, sql, self.timeout)

    def _execute(self, question: str, sql: str) -> pl.DataFrame | Answer:
        """The rows of a validated query, or an answer saying why there are none."""
        try:
            return self.execute(sql)
        except QueryTimeout as error:
            return self._refused(
                question,
                f"{error} ({TIMEOUT_ENV}) and was stopped; narrow the question: ask about "
                "one product, category or period, join fewer tables, or aggregate first",
            )
        except QueryFailed as error:
            problem = f"the query failed: {error}"
            return self._not_understood(question, ParseResult(None, problems=(problem,)))

    def _run_sql(self, question: str, text: str) -> Answer:
        try:
            sql = self._validate(text)
        except UnsafeQueryError as error:
            return self._refused(question, str(error))
        frame = self._execute(question, sql)
        if isinstance(frame, Answer):
            return frame
        noun = "row" if frame.height == 1 else "rows"
        return Answer(
            question=question,
            interpretation="your SQL, checked and run as written (with a row limit)",
            sql=sql,
            columns=list(frame.columns),
            rows=[list(row) for row in frame.rows()],
            answer=f"Your query returned {frame.height} {noun}.",
            source="sql",
        )

    def _refused(self, question: str, reason: str) -> Answer:
        return Answer(
            question=question,
            interpretation="refused",
            sql=None,
            columns=[],
            rows=[],
            answer=f"Refused: {reason}.",
            source="none",
            understood=False,
            refused=True,
        )

    def examples(self) -> list[str]:
        """The example questions with their slots filled from the data."""
        values = self.lexicon.values
        filled = {
            "category": next(iter(values.get("category", [])), "Electronics"),
            "product": next(iter(values.get("product", [])), "a product"),
            "year": str(getattr(self.lexicon.latest_month, "year", 2025)),
        }
        questions = [*self.model.examples, *(item.question for item in self.model.templates)]
        return list(dict.fromkeys(question.format(**filled) for question in questions))

    def _not_understood(self, question: str, result: ParseResult, note: str = "") -> Answer:
        examples = self.examples()
        suggestions = difflib.get_close_matches(question, examples, n=3, cutoff=0.0)
        problems = "; ".join(result.problems) or "I did not understand the question"
        text = f"Sorry, I cannot answer that: {problems}."
        if result.understood:
            text += " I understood: " + ", ".join(result.understood) + "."
        similar = [
            value
            for problem in result.problems
            for word in problem.split("'")[1::2]
            for value in self.lexicon.similar_values(word.lower())
        ]
        if similar:
            text += " Did you mean: " + ", ".join(dict.fromkeys(similar)) + "?"
        if note:
            text += f" {note}"
        metrics = ", ".join(metric.label for metric in self.model.metrics.values())
        dims = ", ".join(dim.label for dim in self.model.dimensions.values())
        text += f" I know these measures: {metrics}; and these dimensions: {dims}."
        return Answer(
            question=question,
            interpretation="not understood",
            sql=None,
            columns=[],
            rows=[],
            answer=text,
            source="none",
            understood=False,
            suggestions=suggestions,
        )


def ask(question: str, lake_root: str | None = None) -> Answer:
    """Answer one question over the lake's tables (loads them each call)."""
    return Asker(lake_root).ask(question)
