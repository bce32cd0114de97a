"""Migration 1, the initial schema: Stream and R2 inventory, analytics, sync bookkeeping.

The rules of `schema.py` apply; this file only holds the first migration's SQL (it is the
longest), so that `schema.py` stays a readable list of migrations.
"""

V1_SQL = """
-- live_inputs: one row per Stream live input ever listed; key (uid).
CREATE TABLE live_inputs (
    uid                         VARCHAR PRIMARY KEY,
    name                        VARCHAR,            -- meta.name; live inputs may have none
    created                     TIMESTAMPTZ NOT NULL,
    modified                    TIMESTAMPTZ NOT NULL,
    enabled                     BOOLEAN NOT NULL,
    recording_mode              VARCHAR NOT NULL,   -- 'off' | 'automatic'
    recording_timeout_seconds   INTEGER NOT NULL,   -- 0 = platform default
    delete_recording_after_days INTEGER,
    status                      VARCHAR,
    first_seen                  TIMESTAMPTZ NOT NULL,
    last_seen                   TIMESTAMPTZ NOT NULL,
    missing_since               TIMESTAMPTZ
);
COMMENT ON TABLE live_inputs IS
    'One row per Stream live input ever listed; key (uid). Never deleted: missing_since is '
    'set when a complete listing no longer has it.';

-- videos: one row per Stream video (upload or live recording) ever listed; key (uid).
CREATE TABLE videos (
    uid                  VARCHAR PRIMARY KEY,
    created              TIMESTAMPTZ NOT NULL,
    modified             TIMESTAMPTZ NOT NULL,
    uploaded             TIMESTAMPTZ,                -- NULL while pending upload
    ready_to_stream_at   TIMESTAMPTZ,                -- NULL until playable
    ready_to_stream      BOOLEAN NOT NULL,
    state                VARCHAR NOT NULL,           -- status.state
    pct_complete         DOUBLE,                     -- status.pctComplete (a string in the API)
    error_reason_code    VARCHAR,
    error_reason_text    VARCHAR,
    duration_seconds     DOUBLE CHECK (duration_seconds IS NULL OR duration_seconds >= 0),
    size_bytes           BIGINT NOT NULL,
    width                INTEGER CHECK (width IS NULL OR width >= 0),
    height               INTEGER CHECK (height IS NULL OR height >= 0),
    live_input_uid       VARCHAR,
    creator              VARCHAR,
    name                 VARCHAR,
    scheduled_deletion   TIMESTAMPTZ,
    max_duration_seconds INTEGER,
    upload_expiry        TIMESTAMPTZ,
    require_signed_urls  BOOLEAN NOT NULL,
    first_seen           TIMESTAMPTZ NOT NULL,
    last_seen            TIMESTAMPTZ NOT NULL,
    missing_since        TIMESTAMPTZ
);
COMMENT ON TABLE videos IS
    'One row per Stream video (upload or live recording) ever listed; key (uid). '
    'duration_seconds, width and height are NULL when the API says -1 (unknown). Never '
    'deleted: missing_since marks videos gone from the listing.';

-- stream_storage_snapshots: one storage-usage reading; key (taken_at, creator).
CREATE TABLE stream_storage_snapshots (
    taken_at                    TIMESTAMPTZ NOT NULL,
    creator                     VARCHAR NOT NULL DEFAULT '',   -- '' = whole account
    total_storage_minutes       DOUBLE NOT NULL,
    total_storage_minutes_limit BIGINT,
    video_count                 BIGINT NOT NULL,
    PRIMARY KEY (taken_at, creator)
);
COMMENT ON TABLE stream_storage_snapshots IS
    'One Stream storage-usage reading at taken_at for one creator ('''' = whole account); key '
    '(taken_at, creator).';

-- minutes_viewed_daily: minutes viewed of one video, from one country, on one day.
CREATE TABLE minutes_viewed_daily (
    date           DATE NOT NULL,
    uid            VARCHAR NOT NULL,
    country        VARCHAR NOT NULL,
    creator        VARCHAR NOT NULL DEFAULT '',   -- '' when the API has no creator
    minutes_viewed DOUBLE NOT NULL,
    synced_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (date, uid, country, creator)
);
COMMENT ON TABLE minutes_viewed_daily IS
    'Minutes viewed of one video from one country on one UTC day; key (date, uid, country, '
    'creator), creator '''' when unknown. Windows are replaced whole when the API restates '
    'them.';

-- r2_objects: one row per R2 object ever listed; key (bucket, key).
CREATE TABLE r2_objects (
    bucket        VARCHAR NOT NULL,
    key           VARCHAR NOT NULL,
    size_bytes    BIGINT NOT NULL,
    etag          VARCHAR,
    last_modified TIMESTAMPTZ NOT NULL,
    storage_class VARCHAR,
    first_seen    TIMESTAMPTZ NOT NULL,
    last_seen     TIMESTAMPTZ NOT NULL,
    missing_since TIMESTAMPTZ,
    PRIMARY KEY (bucket, key)
);
COMMENT ON TABLE r2_objects IS
    'One row per R2 object ever listed; key (bucket, key). Never deleted: missing_since marks '
    'objects gone from a complete listing of their bucket.';

-- r2_lifecycle_rules: one lifecycle rule of one bucket; key (bucket, rule_id).
CREATE TABLE r2_lifecycle_rules (
    bucket               VARCHAR NOT NULL,
    rule_id              VARCHAR NOT NULL,
    enabled              BOOLEAN NOT NULL,
    prefix               VARCHAR NOT NULL DEFAULT '',   -- '' = whole bucket
    transition_days      INTEGER,
    transition_class     VARCHAR,
    expire_days          INTEGER,
    abort_multipart_days INTEGER,
    rule_json            VARCHAR NOT NULL,              -- the raw rule as returned
    first_seen           TIMESTAMPTZ NOT NULL,
    last_seen            TIMESTAMPTZ NOT NULL,
    missing_since        TIMESTAMPTZ,
    PRIMARY KEY (bucket, rule_id)
);
COMMENT ON TABLE r2_lifecycle_rules IS
    'One lifecycle rule of one R2 bucket, flattened, with the raw rule in rule_json; key '
    '(bucket, rule_id). Never deleted: missing_since marks removed rules.';

-- r2_storage_daily: one bucket's peak storage on one day; key (date, bucket).
CREATE TABLE r2_storage_daily (
    date          DATE NOT NULL,
    bucket        VARCHAR NOT NULL,
    payload_size  BIGINT NOT NULL,
    metadata_size BIGINT NOT NULL,
    object_count  BIGINT NOT NULL,
    upload_count  BIGINT NOT NULL,   -- pending multipart uploads
    PRIMARY KEY (date, bucket)
);
COMMENT ON TABLE r2_storage_daily IS
    'One R2 bucket''s peak (max) storage on one UTC day; key (date, bucket).';

-- r2_operations_daily: requests of one action type and status on one bucket and day.
CREATE TABLE r2_operations_daily (
    date          DATE NOT NULL,
    bucket        VARCHAR NOT NULL,
    action_type   VARCHAR NOT NULL,
    action_status VARCHAR NOT NULL,
    requests      BIGINT NOT NULL,
    PRIMARY KEY (date, bucket, action_type, action_status)
);
COMMENT ON TABLE r2_operations_daily IS
    'Requests of one R2 action type and status on one bucket on one UTC day; key (date, '
    'bucket, action_type, action_status).';

-- r2_listing_calls: ListObjectsV2 calls one sync run made on one bucket; key (run_id, bucket).
CREATE TABLE r2_listing_calls (
    run_id VARCHAR NOT NULL,
    bucket VARCHAR NOT NULL,
    calls  INTEGER NOT NULL,
    PRIMARY KEY (run_id, bucket)
);
COMMENT ON TABLE r2_listing_calls IS
    'ListObjectsV2 calls one sync run made on one bucket (the inventory''s own Class A cost); '
    'key (run_id, bucket).';

-- sync_runs: one run of `lc-analytics sync`; key (run_id).
CREATE TABLE sync_runs (
    run_id           VARCHAR PRIMARY KEY,
    started_at       TIMESTAMPTZ NOT NULL,
    finished_at      TIMESTAMPTZ,
    status           VARCHAR NOT NULL
                     CHECK (status IN ('running', 'ok', 'failed', 'interrupted')),
    sources          VARCHAR NOT NULL,          -- comma-separated source names
    rows_json        VARCHAR,                   -- {"table": rows written}
    requests         INTEGER NOT NULL DEFAULT 0,
    retries          INTEGER NOT NULL DEFAULT 0,
    listing_calls    INTEGER NOT NULL DEFAULT 0,
    duration_seconds DOUBLE,
    error            VARCHAR
);
COMMENT ON TABLE sync_runs IS
    'One run of lc-analytics sync with its outcome and request counts; key (run_id).';

-- sync_state: the watermark of one source; key (source).
CREATE TABLE sync_state (
    source       VARCHAR PRIMARY KEY,
    watermark    DATE,
    updated_at   TIMESTAMPTZ NOT NULL,
    details_json VARCHAR
);
COMMENT ON TABLE sync_state IS
    'The watermark (last complete day) of one sync source, committed with the window it '
    'closes; key (source).';
"""
