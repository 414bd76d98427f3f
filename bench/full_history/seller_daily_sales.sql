-- Per seller and day: what was sold (by sale day) and what was given back (by the day of the
-- cancellation or refund). net = gross - refunds. A buyer is new on the day of their first purchase
-- from this seller; every other buyer of the day is returning.
-- Shape (for speed, see docs/benchmarks-marts.md): at most one DISTINCT per GROUP BY (DuckDB runs
-- several as separate aggregates joined back); buyers counted from one row per seller, buyer, day
-- and currency, to which first purchases are joined (not to every sale line); the range is read
-- once: first purchases come from it plus the history before :start (none for a whole backfill).
WITH sold AS (
    SELECT seller_id, dt, currency, order_id, buyer, qty, amount_cents
    FROM stg_sales
    WHERE dt BETWEEN :start AND :end
),
orders_day AS (
    SELECT
        seller_id,
        dt,
        currency,
        count(DISTINCT order_id) AS orders,
        sum(qty) AS units,
        sum(amount_cents) AS gross_cents
    FROM sold
    GROUP BY seller_id, dt, currency
),
buyer_days AS (
    SELECT DISTINCT seller_id, buyer, dt, currency
    FROM sold
),
first_purchase AS (
    SELECT seller_id, buyer, min(first_dt) AS first_dt
    FROM (
        SELECT seller_id, buyer, min(dt) AS first_dt
        FROM stg_sales
        WHERE dt < :start
        GROUP BY seller_id, buyer
        UNION ALL
        SELECT seller_id, buyer, min(dt) AS first_dt
        FROM buyer_days
        GROUP BY seller_id, buyer
    ) AS firsts
    GROUP BY seller_id, buyer
),
buyers_day AS (
    SELECT
        b.seller_id,
        b.dt,
        b.currency,
        count(*) AS buyers,
        count_if(f.first_dt = b.dt) AS new_buyers
    FROM buyer_days AS b
    JOIN first_purchase AS f ON f.seller_id = b.seller_id AND f.buyer = b.buyer
    GROUP BY b.seller_id, b.dt, b.currency
),
sales_day AS (
    SELECT o.seller_id, o.dt, o.currency, o.orders, o.units, o.gross_cents, b.buyers, b.new_buyers
    FROM orders_day AS o
    JOIN buyers_day AS b ON b.seller_id = o.seller_id AND b.dt = o.dt AND b.currency = o.currency
),
returns_day AS (
    SELECT
        seller_id,
        dt,
        currency,
        sum(qty) AS refunded_units,
        sum(amount_cents) AS refund_cents,
        sum(CASE WHEN event_type = 'order_cancelled' THEN qty ELSE 0 END) AS cancelled_units,
        sum(CASE WHEN event_type = 'order_cancelled' THEN amount_cents ELSE 0 END) AS cancelled_cents
    FROM stg_event_lines
    WHERE dt BETWEEN :start AND :end
      AND event_type IN ('order_refunded', 'order_cancelled')
    GROUP BY seller_id, dt, currency
)
SELECT
    coalesce(s.seller_id, r.seller_id) AS seller_id,
    coalesce(s.currency, r.currency) AS currency,
    coalesce(s.orders, 0) AS orders,
    coalesce(s.units, 0) AS units,
    coalesce(s.gross_cents, 0) AS gross_cents,
    coalesce(r.refunded_units, 0) AS refunded_units,
    coalesce(r.refund_cents, 0) AS refund_cents,
    coalesce(r.cancelled_units, 0) AS cancelled_units,
    coalesce(r.cancelled_cents, 0) AS cancelled_cents,
    coalesce(s.gross_cents, 0) - coalesce(r.refund_cents, 0) AS net_cents,
    CASE WHEN s.orders > 0 THEN CAST(round(CAST(s.gross_cents AS double) / s.orders) AS bigint) END
        AS avg_order_value_cents,
    coalesce(s.buyers, 0) AS buyers,
    coalesce(s.new_buyers, 0) AS new_buyers,
    coalesce(s.buyers, 0) - coalesce(s.new_buyers, 0) AS returning_buyers,
    coalesce(s.dt, r.dt) AS dt
FROM sales_day AS s
FULL OUTER JOIN returns_day AS r
    ON r.seller_id = s.seller_id AND r.dt = s.dt AND r.currency = s.currency
