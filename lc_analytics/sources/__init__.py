"""Sources: the declared datasets, one module per API, each yielding plain records through
the client (`lc_analytics.client`); none knows about DuckDB."""

from .analytics import DATASETS, Dataset
from .r2 import R2Inventory

__all__ = ["DATASETS", "Dataset", "R2Inventory"]
