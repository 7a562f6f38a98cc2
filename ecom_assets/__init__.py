"""ecom-assets: e-commerce sales prediction and decision support as Dagster assets on Delta.

`defs`, the Dagster code location, is loaded on first access, so the `ecom` command line and
other light entry points do not pay for importing Dagster.
"""

from typing import Any

__all__ = ["defs"]


def __getattr__(name: str) -> Any:
    if name == "defs":
        from ecom_assets.definitions import defs

        return defs
    raise AttributeError(f"module 'ecom_assets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), "defs"])
