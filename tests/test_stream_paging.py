"""The list-videos time cursor: rewinding to the last whole creation time of a page."""

from __future__ import annotations

import pytest

from lc_analytics.client.paginators import TimeCursorPaginator
from lc_analytics.errors import ApiError
from lc_analytics.sources.stream import parse_time


def _rewound_cursor(batch: list[dict], previous: str | None) -> str | None:
    """The cursor the list-videos paginator moves to after a full page `batch`."""
    paginator = TimeCursorPaginator(len(batch), "stream", parse_time)
    paginator.cursor = previous
    paginator.update_state(None, batch)
    return paginator.cursor


def _page(*created: str) -> list[dict]:
    return [{"uid": f"v{i}", "created": c} for i, c in enumerate(created)]


def test_the_cursor_rewinds_to_the_last_creation_time_before_the_page_end():
    page = _page("2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z", "2026-06-02T00:00:00Z")
    assert _rewound_cursor(page, None) == "2026-06-01T00:00:00Z"


def test_a_page_of_one_creation_time_rewinds_a_microsecond():
    page = _page("2026-06-02T00:00:00Z", "2026-06-02T00:00:00Z")
    assert _rewound_cursor(page, None) == "2026-06-01T23:59:59.999999Z"
    # never back to (or before) the previous cursor, or paging would not move on
    page = _page("2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z")
    assert _rewound_cursor(page, "2026-06-01T00:00:00Z") == "2026-06-01T23:59:59.999999Z"


@pytest.mark.parametrize("created", [None, ""])
def test_a_listed_video_without_a_creation_time_is_an_api_error(created):
    page = _page("2026-06-01T00:00:00Z", created)
    with pytest.raises(ApiError, match="without a creation time"):
        _rewound_cursor(page, None)
