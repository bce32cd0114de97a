"""The country bandwidth table of the bitrate recommender: typical mobile download per
country (`country_bandwidth.toml`, approximate and dated), or a file the user gives."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from ..errors import ConfigError


def load_bandwidth(path: str | Path | None = None) -> tuple[dict[str, float], float, str]:
    """Country -> typical mobile Mbps, the default for other countries, and the source.

    >>> from lc_analytics.facts import LOW_BANDWIDTH_MBPS
    >>> table, default, source = load_bandwidth()
    >>> table["US"] > LOW_BANDWIDTH_MBPS > table["BD"]
    True
    """
    if path is None:
        text = resources.files("lc_analytics.recommend").joinpath(
            "country_bandwidth.toml").read_text(encoding="utf-8")
        origin = "built-in country_bandwidth.toml"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError([f"cannot read bandwidth file {path}: {exc.strerror}"]) from exc
        origin = str(path)
    try:
        data = tomllib.loads(text)
        table = {str(k).upper(): float(v) for k, v in data["countries"].items()}
        default = float(data["meta"]["default_mbps"])
        source = str(data["meta"].get("source", origin))
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError([f"bandwidth file {origin} is malformed: {exc}"]) from exc
    return table, default, f"{source} ({origin})"


__all__ = ["load_bandwidth"]
