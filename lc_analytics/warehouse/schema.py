"""The warehouse schema as ordered, append-only migrations (version, description, SQL).

Rules for this file:

- Never edit a migration that has shipped; add a new one with the next version.
- Each migration runs in its own transaction together with its row in `schema_migrations`,
  so a warehouse is always at exactly one version.
- Every table carries a `COMMENT ON TABLE` saying what one row is and what its key is;
  `SELECT table_name, comment FROM duckdb_tables()` prints them.

Conventions the loader (`catalog.py`, `transaction.py`) reads from the schema itself, not
from Python metadata:

- the PRIMARY KEY is the natural key that upserts conflict on;
- a table with `first_seen`, `last_seen` and `missing_since` is an *inventory* table: the
  warehouse manages those three columns, rows are never deleted, and a complete listing that
  no longer contains a row sets `missing_since` (cleared if the row reappears);
- a column with a DEFAULT may be left out of the records, and a NULL in it gets the default
  (`creator = ''` means "the whole account", `prefix = ''` means "the whole bucket");
- every other column must be present in every record (None where the column allows NULL).

All timestamps are TIMESTAMPTZ in UTC (connections run with `TimeZone = 'UTC'`), days are DATE.
"""

from __future__ import annotations

from typing import NamedTuple

from .schema_billing import V13_SQL
from .schema_live import V12_SQL, V14_SQL
from .schema_v1 import V1_SQL
from .schema_zone import V11_SQL


class Migration(NamedTuple):
    """One schema step: applied once, in one transaction, recorded in `schema_migrations`."""

    version: int
    description: str
    sql: str


# Bookkeeping table created before any migration runs (it records them).
BOOTSTRAP_SQL = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,
    description VARCHAR NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL
);
"""

V2_SQL = """
-- r2_object_reads_daily: successful reads of one R2 object on one day.
CREATE TABLE r2_object_reads_daily (
    date        DATE NOT NULL,
    bucket      VARCHAR NOT NULL,
    object_name VARCHAR NOT NULL,
    action_type VARCHAR NOT NULL,   -- 'GetObject' | 'HeadObject'
    requests    BIGINT NOT NULL,
    PRIMARY KEY (date, bucket, object_name, action_type)
);
COMMENT ON TABLE r2_object_reads_daily IS
    'Successful reads (GetObject, HeadObject) of one R2 object on one UTC day; key (date, '
    'bucket, object_name, action_type).';
"""

V3_SQL = """
-- recommendations: one recommendation of one `lc-analytics recommend` run.
CREATE TABLE recommendations (
    run_at            TIMESTAMPTZ NOT NULL,
    id                VARCHAR NOT NULL,      -- stable: kind + target
    kind              VARCHAR NOT NULL,
    target_type       VARCHAR NOT NULL,
    target            VARCHAR NOT NULL,
    action            VARCHAR NOT NULL,
    rule              VARCHAR NOT NULL,
    monthly_saving    DECIMAL(18, 6) NOT NULL,
    saving_computation VARCHAR NOT NULL,
    viewer_impact     VARCHAR NOT NULL,
    confidence        VARCHAR NOT NULL,
    evidence_json     VARCHAR NOT NULL,
    actions_json      VARCHAR NOT NULL,
    plan_id           VARCHAR,
    book              VARCHAR,
    PRIMARY KEY (run_at, id)
);
COMMENT ON TABLE recommendations IS
    'One recommendation made by one recommend run, with its evidence, saving and actions; '
    'key (run_at, id).';

-- apply_audit: every action of every apply, whatever its outcome.
CREATE TABLE apply_audit (
    apply_id          VARCHAR NOT NULL,      -- one per `apply --yes` run
    applied_at        TIMESTAMPTZ NOT NULL,
    plan_id           VARCHAR NOT NULL,
    action_id         VARCHAR NOT NULL,
    kind              VARCHAR NOT NULL,
    resource          VARCHAR NOT NULL,
    recommendation_id VARCHAR,
    before_json       VARCHAR,
    after_json        VARCHAR,
    status            VARCHAR NOT NULL CHECK (status IN ('applied', 'already', 'manual',
                                                          'failed')),
    error             VARCHAR,
    PRIMARY KEY (apply_id, action_id)
);
COMMENT ON TABLE apply_audit IS
    'One action of one `lc-analytics apply --yes`: the value before, the value after, and '
    'the outcome; key (apply_id, action_id). Append-only.';
"""

V4_SQL = """
-- focus_cost_rows: one FOCUS 1.2 cost row (day x SKU x resource) of the allocated bill.
CREATE TABLE focus_cost_rows (
    BilledCost          DECIMAL(38, 24) NOT NULL,
    BillingAccountId    VARCHAR NOT NULL,
    BillingAccountName  VARCHAR,
    BillingCurrency     VARCHAR NOT NULL,
    BillingPeriodEnd    TIMESTAMPTZ NOT NULL,
    BillingPeriodStart  TIMESTAMPTZ NOT NULL,
    ChargeCategory      VARCHAR NOT NULL,
    ChargeClass         VARCHAR,
    ChargeDescription   VARCHAR NOT NULL,
    ChargeFrequency     VARCHAR NOT NULL,
    ChargePeriodEnd     TIMESTAMPTZ NOT NULL,
    ChargePeriodStart   TIMESTAMPTZ NOT NULL,
    ConsumedQuantity    DECIMAL(38, 24),
    ConsumedUnit        VARCHAR,
    ContractedCost      DECIMAL(38, 24) NOT NULL,
    ContractedUnitPrice DECIMAL(38, 24),
    EffectiveCost       DECIMAL(38, 24) NOT NULL,
    InvoiceId           VARCHAR,
    InvoiceIssuerName   VARCHAR NOT NULL,
    ListCost            DECIMAL(38, 24) NOT NULL,
    ListUnitPrice       DECIMAL(38, 24),
    PricingCategory     VARCHAR,
    PricingQuantity     DECIMAL(38, 24),
    PricingUnit         VARCHAR,
    ProviderName        VARCHAR NOT NULL,
    PublisherName       VARCHAR NOT NULL,
    ResourceId          VARCHAR NOT NULL,
    ResourceName        VARCHAR,
    ResourceType        VARCHAR,
    ServiceCategory     VARCHAR NOT NULL,
    ServiceName         VARCHAR NOT NULL,
    ServiceSubcategory  VARCHAR,
    SkuId               VARCHAR NOT NULL,
    SkuMeter            VARCHAR,
    SkuPriceDetails     VARCHAR,                -- JSON object
    SkuPriceId          VARCHAR,
    Tags                VARCHAR,                -- JSON object
    x_LiveInputId       VARCHAR,
    x_Creator           VARCHAR,
    x_Bucket            VARCHAR,
    x_Prefix            VARCHAR,
    x_StorageClass      VARCHAR,
    x_AllocationBasis   VARCHAR NOT NULL,
    x_PriceBook         VARCHAR NOT NULL,
    PRIMARY KEY (ChargePeriodStart, SkuId, ResourceId)
);
COMMENT ON TABLE focus_cost_rows IS
    'One FOCUS 1.2 cost row: one day, one SKU, one resource of the allocated bill; key '
    '(ChargePeriodStart, SkuId, ResourceId). Written by refresh_focus, a month at a time; read '
    'it through the view focus_costs.';

-- focus_costs: the FOCUS 1.2 dataset (the columns of focus_cost_rows, FOCUS columns first).
CREATE VIEW focus_costs AS SELECT * FROM focus_cost_rows;
"""

V5_SQL = """
-- accounts: the Cloudflare account this warehouse holds (one; a sync refuses another).
CREATE TABLE accounts (
    account_id      VARCHAR NOT NULL PRIMARY KEY,
    first_synced_at TIMESTAMPTZ NOT NULL,
    last_synced_at  TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE accounts IS
    'The Cloudflare account whose data this warehouse holds; key (account_id). A sync of '
    'another account into it is refused.';
"""

V6_SQL = """
-- coverage: one day of one daily source whose window was committed whole; key (source, day).
CREATE TABLE coverage (
    source       VARCHAR NOT NULL,
    day          DATE NOT NULL,
    committed_at TIMESTAMPTZ NOT NULL,   -- the last commit that wrote the day
    PRIMARY KEY (source, day)
);
COMMENT ON TABLE coverage IS
    'One UTC day of one daily analytics source, recorded in the transaction that committed '
    'the window holding it after the day had ended; key (source, day). A re-fetch replaces '
    'the day''s rows and never removes it from coverage.';

-- Warehouses synced before coverage existed: their days up to the watermark are covered.
INSERT INTO coverage (source, day, committed_at)
SELECT s.source, CAST(unnest(generate_series(
           CAST(coalesce(least(f.first_day, s.watermark), s.watermark) AS TIMESTAMP),
           CAST(s.watermark AS TIMESTAMP), INTERVAL 1 DAY)) AS DATE), s.updated_at
FROM sync_state AS s
JOIN (SELECT 'minutes_viewed' AS source, min(date) AS first_day FROM minutes_viewed_daily
      UNION ALL SELECT 'r2_storage', min(date) FROM r2_storage_daily
      UNION ALL SELECT 'r2_operations', min(date) FROM r2_operations_daily
      UNION ALL SELECT 'r2_object_reads', min(date) FROM r2_object_reads_daily) AS f
  USING (source)
WHERE s.watermark IS NOT NULL;
"""

V7_SQL = """
-- r2_operations_daily gains the HTTP status (R2 does not bill 401/403): rebuilt with it in the
-- key. Rows synced before keep 0 ("not recorded") and stay billable; a re-sync replaces them.
CREATE TABLE r2_operations_daily_v7 (
    date                 DATE NOT NULL,
    bucket               VARCHAR NOT NULL,
    action_type          VARCHAR NOT NULL,
    action_status        VARCHAR NOT NULL,
    response_status_code INTEGER NOT NULL DEFAULT 0,  -- 0 = synced before codes were kept
    requests             BIGINT NOT NULL,
    PRIMARY KEY (date, bucket, action_type, action_status, response_status_code)
);
INSERT INTO r2_operations_daily_v7
    SELECT date, bucket, action_type, action_status, 0, requests FROM r2_operations_daily;
DROP TABLE r2_operations_daily;
ALTER TABLE r2_operations_daily_v7 RENAME TO r2_operations_daily;
COMMENT ON TABLE r2_operations_daily IS
    'Requests of one R2 action type, status and HTTP response code on one bucket on one UTC '
    'day; key (date, bucket, action_type, action_status, response_status_code). Code 0: '
    'synced before codes were kept. 401/403 are not billed.';
"""

V8_SQL = """
-- alerts: the state of one alert of `lc-analytics alerts check`; key (key).
CREATE TABLE alerts (
    key            VARCHAR PRIMARY KEY,   -- stable: kind/what[/month]
    kind           VARCHAR NOT NULL,
    level          INTEGER NOT NULL,      -- as last evaluated; 0 = clear
    sent_level     INTEGER NOT NULL,      -- the level last delivered; 0 = none or resolved sent
    title          VARCHAR NOT NULL,
    body           VARCHAR NOT NULL,
    first_fired_at TIMESTAMPTZ NOT NULL,
    evaluated_at   TIMESTAMPTZ NOT NULL,
    sent_at        TIMESTAMPTZ,
    resolved_at    TIMESTAMPTZ
);
COMMENT ON TABLE alerts IS
    'One alert of lc-analytics alerts check: the level last evaluated and the level last '
    'delivered (a message is due while they differ); key (key).';

-- alert_events: one message of one alert, sent or not; key (key, occurred_at, event).
CREATE TABLE alert_events (
    key        VARCHAR NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    event      VARCHAR NOT NULL CHECK (event IN ('fired', 'escalated', 'resolved')),
    level      INTEGER NOT NULL,
    title      VARCHAR NOT NULL,
    body       VARCHAR NOT NULL,
    delivered  BOOLEAN NOT NULL,
    error      VARCHAR,             -- why the delivery failed (no URL or secret in it)
    PRIMARY KEY (key, occurred_at, event)
);
COMMENT ON TABLE alert_events IS
    'One message of one alert (fired, escalated, resolved) and whether it was delivered; '
    'key (key, occurred_at, event). Append-only: the history of alerts check.';
"""

V9_SQL = """
-- export_state: what the last complete export to one destination holds, per table partition.
CREATE TABLE export_state (
    destination    VARCHAR NOT NULL,      -- normalized: a folder, s3://..., iceberg:...
    table_name     VARCHAR NOT NULL,
    partition_key  VARCHAR NOT NULL,      -- 'year=2026/month=6', '' for a table exported whole
    rows           BIGINT NOT NULL,
    fingerprint    VARCHAR NOT NULL,      -- of the partition's rows and the table's columns
    path           VARCHAR NOT NULL,      -- the Parquet file, relative to the destination
    schema_version INTEGER NOT NULL,
    snapshot_id    VARCHAR NOT NULL,      -- the destination manifest's snapshot it belongs to
    exported_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (destination, table_name, partition_key)
);
COMMENT ON TABLE export_state IS
    'One partition of one table as the last complete export to one destination wrote it; '
    'key (destination, table_name, partition_key). The next export rewrites only the '
    'partitions whose fingerprint changed.';
"""

V10_SQL = """
-- sync_skips: what one sync run chose not to fetch, and why; key (run_id, source, subject).
CREATE TABLE sync_skips (
    run_id  VARCHAR NOT NULL,
    source  VARCHAR NOT NULL,   -- the sync source, e.g. 'stream', 'r2_inventory'
    subject VARCHAR NOT NULL,   -- what was skipped: 'live_inputs', 'videos', a bucket name
    skipped BIGINT NOT NULL,    -- how many items (inputs, videos, buckets) were not fetched
    reason  VARCHAR NOT NULL,
    PRIMARY KEY (run_id, source, subject)
);
COMMENT ON TABLE sync_skips IS
    'What one sync run did not fetch (unchanged live inputs, videos outside the incremental '
    'listing, R2 buckets whose metrics did not move) and why; key (run_id, source, subject).';
"""

MIGRATIONS: list[Migration] = [
    Migration(1, "initial schema: Stream and R2 inventory, analytics, sync bookkeeping", V1_SQL),
    Migration(2, "R2 reads per object per day", V2_SQL),
    Migration(3, "recommendations and the apply audit log", V3_SQL),
    Migration(4, "FOCUS 1.2 cost rows and the focus_costs view", V4_SQL),
    Migration(5, "the account a warehouse holds", V5_SQL),
    Migration(6, "coverage: the days of each daily source committed whole", V6_SQL),
    Migration(7, "R2 operations split by HTTP response code", V7_SQL),
    Migration(8, "alerts: state and history of alerts check", V8_SQL),
    Migration(9, "export state: the partitions each export destination holds", V9_SQL),
    Migration(10, "sync_skips: what incremental inventories did not fetch", V10_SQL),
    Migration(11, "zone (CDN) traffic, cache rules and dataset limits", V11_SQL),
    Migration(12, "live shows: live-input events and viewer samples", V12_SQL),
    Migration(13, "billed usage (billable-usage API) and audit checks", V13_SQL),
    Migration(14, "live minutes viewed by the minute; why a viewer poll has no number",
              V14_SQL),
]

SCHEMA_VERSION: int = MIGRATIONS[-1].version

# The columns the warehouse manages on inventory tables; records must not carry them.
SEEN_COLUMNS: tuple[str, str, str] = ("first_seen", "last_seen", "missing_since")


def _check_order(migrations: list[Migration]) -> None:
    versions = [m.version for m in migrations]
    if versions != sorted(set(versions)) or versions[0] < 1:
        raise RuntimeError(f"migration versions must be unique, ascending, >= 1: {versions}")


_check_order(MIGRATIONS)
