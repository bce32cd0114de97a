"""R2 operation billing classes: re-exported from `lc_analytics.facts` (reference §3.2)."""

from __future__ import annotations

from ..facts import NOT_BILLED_STATUS_CODES
from ..facts import R2_CLASS_A as CLASS_A
from ..facts import R2_CLASS_B as CLASS_B
from ..facts import R2_FREE as FREE
from ..facts import R2_READS as READS
from ..facts import r2_op_class as op_class

__all__ = ["CLASS_A", "CLASS_B", "FREE", "NOT_BILLED_STATUS_CODES", "READS", "op_class"]
