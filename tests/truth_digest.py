"""A digest of a sandbox account's full ground truth: every table, every row, column and dtype."""

from __future__ import annotations

import dataclasses
import hashlib

import pandas as pd


def truth_digest(truth) -> str:
    """SHA-256 over every field of a `GroundTruth`, in field order.

    Frames contribute their column names, dtypes and a hash of every row (index ignored,
    except that `videos` is keyed by uid); other fields contribute their repr.
    """
    h = hashlib.sha256()
    for f in dataclasses.fields(truth):
        value = getattr(truth, f.name)
        h.update(f.name.encode())
        if isinstance(value, pd.DataFrame):
            h.update(repr([(c, str(t)) for c, t in value.dtypes.items()]).encode())
            h.update(str(len(value)).encode())
            if len(value):
                h.update(pd.util.hash_pandas_object(value, index=False).to_numpy().tobytes())
        else:
            h.update(repr(value).encode())
    return h.hexdigest()
