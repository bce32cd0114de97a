"""Migration 13: the billed-usage and audit tables (kept apart: schema.py stays under 400
lines)."""

V13_SQL = """
-- billed_usage: Cloudflare's billable usage as sent (reference 8.3), one row per charge period
-- and metric. V2 rows carry x_BillableMetricId; V1 rows the ServiceName (metric = either).
CREATE TABLE billed_usage (
    ChargePeriodStart    TIMESTAMPTZ NOT NULL,
    metric               VARCHAR NOT NULL,      -- x_BillableMetricId (V2) or ServiceName (V1)
    api_version          VARCHAR NOT NULL,      -- 'v2' | 'v1'
    ChargePeriodEnd      TIMESTAMPTZ,
    BillingPeriodStart   TIMESTAMPTZ,
    BillingAccountId     VARCHAR,
    BillingCurrency      VARCHAR,
    ChargeCategory       VARCHAR,
    ServiceName          VARCHAR,
    ServiceFamilyName    VARCHAR,
    x_ProductFamilyName  VARCHAR,
    x_BillableMetricId   VARCHAR,
    x_BillableMetricName VARCHAR,
    ConsumedQuantity     DECIMAL(38, 18),
    ConsumedUnit         VARCHAR,
    PricingQuantity      DECIMAL(38, 18),
    PricingUnit          VARCHAR,
    BilledCost           DECIMAL(38, 18),
    ListCost             DECIMAL(38, 18),
    EffectiveCost        DECIMAL(38, 18),
    ContractedCost       DECIMAL(38, 18),
    ListUnitPrice        DECIMAL(38, 18),
    x_ZoneId             VARCHAR,
    SubAccountId         VARCHAR,
    synced_at            TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (ChargePeriodStart, metric)
);
COMMENT ON TABLE billed_usage IS
    'One billable-usage row as Cloudflare sent it (FOCUS-aligned columns, V2 or V1 API): one '
    'metric over one charge period (a UTC day); key (ChargePeriodStart, metric). A re-sync '
    'replaces the window''s rows.';

-- audit_checks: one item of one `lc-analytics audit` run; key (run_at, check_key).
CREATE TABLE audit_checks (
    run_at    TIMESTAMPTZ NOT NULL,
    check_key VARCHAR NOT NULL,
    position  INTEGER NOT NULL,             -- the item's place in the checklist
    title     VARCHAR NOT NULL,
    status    VARCHAR NOT NULL CHECK (status IN ('pass', 'fail', 'cannot tell')),
    evidence  VARCHAR NOT NULL,
    PRIMARY KEY (run_at, check_key)
);
COMMENT ON TABLE audit_checks IS
    'One production-checklist item of one audit run: pass, fail or cannot tell, with its '
    'evidence (never a secret); key (run_at, check_key). The cost review shows the latest run.';
"""
