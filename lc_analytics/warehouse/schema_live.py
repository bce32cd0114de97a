"""Migrations 12 and 14: the live-shows tables (kept apart: schema.py stays under 400 lines)."""

V12_SQL = """
-- Live shows (issue 14): what the receiver and the poller spooled, and the alerting history.
CREATE TABLE live_input_events (
    live_input_uid VARCHAR NOT NULL,
    event_at       TIMESTAMPTZ NOT NULL,     -- data.updated_at (readyToStreamAt for videos)
    event_type     VARCHAR NOT NULL,         -- live_input.connected / .disconnected /
                                             -- .errored; video.ready / video.error
    error_code     VARCHAR,                  -- live_input_errored.error.code
    error_message  VARCHAR,
    video_uid      VARCHAR,                  -- the recording, for video.* events
    source         VARCHAR NOT NULL,         -- notification, stream_webhook or history
    received_at    TIMESTAMPTZ,
    PRIMARY KEY (live_input_uid, event_at, event_type)
);
COMMENT ON TABLE live_input_events IS
    'One live-input event (Cloudflare Notifications) or recording webhook (Stream); key '
    '(live_input_uid, event_at, event_type): a duplicate delivery or a history backfill of a '
    'received event is the same row.';
CREATE TABLE live_viewer_samples (
    live_input_uid VARCHAR NOT NULL,
    sampled_at     TIMESTAMPTZ NOT NULL,     -- when /views was polled
    viewers        INTEGER,                  -- liveViewers; NULL for a gap
    status         VARCHAR NOT NULL,         -- ok, gap (no answer) or hidden (count off)
    PRIMARY KEY (live_input_uid, sampled_at)
);
COMMENT ON TABLE live_viewer_samples IS
    'One poll of a live input''s /views while it was live; key (live_input_uid, '
    'sampled_at). A gap is a failed poll (viewers NULL), never a zero.';
"""

V14_SQL = """
-- Live minutes viewed by the minute (issue 14): streamMinutesViewedAdaptiveGroups grouped by
-- datetime, for the videos of live inputs (their recordings, or the input itself when
-- recording is off) on the days they were live.
CREATE TABLE live_minutes_viewed (
    minute         TIMESTAMPTZ NOT NULL,     -- the minute's start (datetime floored)
    uid            VARCHAR NOT NULL,         -- the video (recording) or the live input
    country        VARCHAR NOT NULL,         -- clientCountryName
    live_input_uid VARCHAR NOT NULL,         -- the live input the uid belongs to
    minutes_viewed BIGINT NOT NULL,
    PRIMARY KEY (minute, uid, country)
);
COMMENT ON TABLE live_minutes_viewed IS
    'Minutes viewed of one live input''s video (or of the input itself) in one minute from '
    'one country; key (minute, uid, country). Restated like the daily analytics: a sync '
    'replaces the days it re-reads.';
-- Why a poll has no number: the HTTP status or error of a gap, or the hidden count
-- (recording.hideLiveViewerCount); NULL for a good sample and for polls spooled before.
ALTER TABLE live_viewer_samples ADD COLUMN reason VARCHAR;
"""
