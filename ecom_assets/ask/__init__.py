"""Ask your data: plain-English questions over the decision tables, answered with the SQL run.

Deterministic and offline: a semantic model (`semantic_model.yaml`), a rules parser, one SQL
compiler, a sqlglot safety gate (joins on declared keys, a row budget; see `joins`) and a worker
process that stops a query at its time limit (see `worker`); a language model is an optional
fallback (see `llm`).
Importing this package stays light (Polars, sqlglot, PyYAML; never Dagster, MLflow or sklearn).
"""

from ecom_assets.ask.answer import Answer
from ecom_assets.ask.cli import main
from ecom_assets.ask.engine import Asker, ask

__all__ = ["Answer", "Asker", "ask", "main"]
