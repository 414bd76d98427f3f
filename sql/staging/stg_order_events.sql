-- One row per order or funnel event, deduplicated by event_id (a redelivered event counts once).
WITH ranked AS (
    SELECT
        e.*,
        row_number() OVER (PARTITION BY e.event_id ORDER BY e.occurred_at) AS copy_rank
    FROM raw_order_events AS e
    WHERE e.dt BETWEEN :start AND :end
)
SELECT
    event_id,
    event_type,
    occurred_at,
    order_id,
    session_id,
    customer AS buyer,
    country,
    currency,
    amount_cents,
    CAST(cardinality(lines) AS integer) AS line_count,
    dt
FROM ranked
WHERE copy_rank = 1
