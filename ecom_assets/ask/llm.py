"""The optional language model backend: a JSON query plan for questions the rules cannot parse.

Off unless `ECOM_ASK_LLM_URL` (an OpenAI-compatible base URL) and `ECOM_ASK_LLM_MODEL` are set
(`ECOM_ASK_LLM_API_KEY` and `ECOM_ASK_LLM_TIMEOUT`, default 10 s, are optional); read at call
time. The request carries the semantic model and the question only, never rows or values from
the tables. The answer is only a plan: the engine validates it like any other plan and compiles
and checks its SQL itself.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from ecom_assets.ask.model import SemanticModel
from ecom_assets.ask.plan import OPERATIONS, OPERATORS

URL_ENV = "ECOM_ASK_LLM_URL"
MODEL_ENV = "ECOM_ASK_LLM_MODEL"
API_KEY_ENV = "ECOM_ASK_LLM_API_KEY"
TIMEOUT_ENV = "ECOM_ASK_LLM_TIMEOUT"
DEFAULT_TIMEOUT = 10.0
_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


class LLMError(RuntimeError):
    """The language model did not return a usable plan (timeout, HTTP error, bad JSON)."""


@dataclass(frozen=True)
class LLMConfig:
    """Where the OpenAI-compatible endpoint is and how to call it."""

    url: str
    model: str
    api_key: str | None = None
    timeout: float = DEFAULT_TIMEOUT


def config_from_env() -> LLMConfig | None:
    """The backend's settings from the environment, or None when it is off."""
    url, model = os.environ.get(URL_ENV), os.environ.get(MODEL_ENV)
    if not url or not model:
        return None
    try:
        timeout = float(os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT)
    except ValueError:
        timeout = DEFAULT_TIMEOUT
    return LLMConfig(url.rstrip("/"), model, os.environ.get(API_KEY_ENV) or None, timeout)


def model_context(model: SemanticModel) -> dict[str, Any]:
    """The semantic model as the language model sees it: names, words and SQL-free meaning."""
    return {
        "tables": {
            name: {"description": spec.description, "grain": list(spec.grain)}
            for name, spec in model.tables.items()
        },
        "metrics": {
            name: {
                "label": metric.label,
                "tables": sorted(metric.tables()),
                "synonyms": list(metric.synonyms),
            }
            for name, metric in model.metrics.items()
        },
        "dimensions": {
            name: {"label": dim.label, "tables": list(dim.tables), "synonyms": list(dim.synonyms)}
            for name, dim in model.dimensions.items()
        },
        "segments": {
            name: {
                "label": segment.label,
                "filters": [[item.column, item.op, item.value] for item in segment.filters],
            }
            for name, segment in model.segments.items()
        },
    }


def _messages(question: str, model: SemanticModel) -> list[dict[str, str]]:
    schema = {
        "operation": f"one of {list(OPERATIONS)}",
        "table": "a table name from the model, or null to let the engine choose",
        "metrics": "metric names",
        "group_by": "dimension names",
        "filters": [
            {
                "column": "metric or dimension name",
                "op": f"one of {list(OPERATORS)}",
                "value": "number, text, or list",
            }
        ],
        "order": [{"column": "metric or dimension name", "descending": True}],
        "limit": "a positive integer or null",
    }
    system = (
        "You translate questions about an e-commerce sales data set into a JSON query plan. "
        "Use only the names in this semantic model; you never see the data. Answer with one "
        "JSON object and nothing else, in this shape: "
        f"{json.dumps(schema)}\nSemantic model: {json.dumps(model_context(model))}"
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]


def request_plan(question: str, model: SemanticModel, config: LLMConfig) -> dict[str, Any]:
    """The JSON plan the language model proposes; raises LLMError on any failure."""
    body = {
        "model": config.model,
        "messages": _messages(question, model),
        "temperature": 0,
        "response_format": {"type": "json_object"},
    }
    headers = {"Content-Type": "application/json"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    request = urllib.request.Request(
        f"{config.url}/chat/completions",
        data=json.dumps(body).encode("utf-8"),
        headers=headers,
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=config.timeout) as response:
            payload = json.loads(response.read().decode("utf-8"))
        content = payload["choices"][0]["message"]["content"]
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise LLMError(f"the language model could not be reached: {error}") from error
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise LLMError("the language model's reply was not a chat completion") from error
    found = _JSON_OBJECT.search(content or "")
    try:
        plan = json.loads(found.group(0)) if found else None
    except ValueError as error:
        raise LLMError("the language model's plan was not valid JSON") from error
    if not isinstance(plan, dict):
        raise LLMError("the language model did not return a JSON plan")
    return plan
