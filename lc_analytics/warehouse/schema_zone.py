"""Migration 11: the zone (CDN) tables (kept apart: schema.py stays under 400 lines)."""

V11_SQL = """
-- zone_traffic_daily: one zone's HTTP traffic on one UTC day (httpRequests1dGroups, exact).
CREATE TABLE zone_traffic_daily (
    zone_id         VARCHAR NOT NULL,
    date            DATE NOT NULL,
    requests        BIGINT NOT NULL,
    cached_requests BIGINT NOT NULL,
    bytes           BIGINT NOT NULL,
    cached_bytes    BIGINT NOT NULL,
    page_views      BIGINT NOT NULL,
    threats         BIGINT NOT NULL,
    uniques         BIGINT NOT NULL,
    PRIMARY KEY (zone_id, date)
);
COMMENT ON TABLE zone_traffic_daily IS
    'One zone''s HTTP requests and bytes on one UTC day, from the exact daily rollup '
    '(httpRequests1dGroups); key (zone_id, date).';

-- zone_traffic_daily_countries: the daily rollup's countryMap.
CREATE TABLE zone_traffic_daily_countries (
    zone_id  VARCHAR NOT NULL,
    date     DATE NOT NULL,
    country  VARCHAR NOT NULL,
    requests BIGINT NOT NULL,
    bytes    BIGINT NOT NULL,
    PRIMARY KEY (zone_id, date, country)
);
COMMENT ON TABLE zone_traffic_daily_countries IS
    'One zone''s requests and bytes from one client country on one UTC day (the daily '
    'rollup''s countryMap, exact); key (zone_id, date, country).';

-- zone_traffic_hourly: sampled hourly groups (httpRequestsAdaptiveGroups), estimates.
CREATE TABLE zone_traffic_hourly (
    zone_id           VARCHAR NOT NULL,
    hour              TIMESTAMPTZ NOT NULL,
    host              VARCHAR NOT NULL,
    path_prefix       VARCHAR NOT NULL,   -- '/static/', '/api/', '/' (first path segment)
    extension         VARCHAR NOT NULL,   -- 'js', 'jpg', '' (none)
    cache_status      VARCHAR NOT NULL,
    status_class      VARCHAR NOT NULL,   -- '2xx' .. '5xx'
    country           VARCHAR NOT NULL,
    requests          BIGINT NOT NULL,    -- estimated (sum of count over sampled rows)
    bytes             BIGINT NOT NULL,    -- estimated edgeResponseBytes
    sample_interval   DOUBLE NOT NULL,    -- mean sample interval of the group (1 = exact)
    requests_variance DOUBLE NOT NULL,    -- sum of count x (sampleInterval - 1)
    PRIMARY KEY (zone_id, hour, host, path_prefix, extension, cache_status, status_class,
                 country)
);
COMMENT ON TABLE zone_traffic_hourly IS
    'Estimated requests and bytes of one zone in one UTC hour by host, path prefix, '
    'extension, cache status, status class and country (adaptive sampling: '
    'requests_variance carries the estimate''s variance); key (zone_id, hour, host, '
    'path_prefix, extension, cache_status, status_class, country).';

-- zone_cache_rules: the zone's cache rules (Rulesets, http_request_cache_settings).
CREATE TABLE zone_cache_rules (
    zone_id             VARCHAR NOT NULL,
    rule_id             VARCHAR NOT NULL,
    ruleset_version     VARCHAR NOT NULL,
    description         VARCHAR NOT NULL,
    expression          VARCHAR NOT NULL,
    action              VARCHAR NOT NULL,
    enabled             BOOLEAN NOT NULL,
    cache               BOOLEAN,
    edge_ttl_mode       VARCHAR,
    edge_ttl_seconds    BIGINT,
    browser_ttl_mode    VARCHAR,
    browser_ttl_seconds BIGINT,
    last_updated        TIMESTAMPTZ,
    first_seen          TIMESTAMPTZ NOT NULL,
    last_seen           TIMESTAMPTZ NOT NULL,
    missing_since       TIMESTAMPTZ,
    PRIMARY KEY (zone_id, rule_id)
);
COMMENT ON TABLE zone_cache_rules IS
    'One cache rule of a zone''s http_request_cache_settings entrypoint, as last listed '
    '(inventory: first_seen, last_seen, missing_since); key (zone_id, rule_id).';

-- zone_dataset_limits: what the zone's plan allows per dataset (the settings node).
CREATE TABLE zone_dataset_limits (
    zone_id         VARCHAR NOT NULL,
    dataset         VARCHAR NOT NULL,
    enabled         BOOLEAN NOT NULL,
    max_duration_s  BIGINT NOT NULL,
    not_older_than_s BIGINT NOT NULL,
    max_page_size   BIGINT NOT NULL,
    checked_at      TIMESTAMPTZ NOT NULL,
    oldest_allowed  TIMESTAMPTZ NOT NULL,   -- the oldest instant the plan let the sync read
    PRIMARY KEY (zone_id, dataset)
);
COMMENT ON TABLE zone_dataset_limits IS
    'One GraphQL dataset''s limits for one zone as its settings node gave them at the last '
    'sync, and the oldest instant that let it read; key (zone_id, dataset).';
"""
