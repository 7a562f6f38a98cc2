"""ecom-assets: e-commerce sales prediction and decision support as Dagster assets on Delta."""

from ecom_assets.definitions import defs

__all__ = ["defs"]
