-- One row per line of an event, deduplicated by event_id: what each order event did to each order
-- line (placed, shipped, delivered, cancelled, refunded) and which products funnel events were
-- about. Cancellations and refunds are tied to their order line by (order_id, line).
WITH events AS (
    SELECT
        e.*,
        row_number() OVER (PARTITION BY e.event_id ORDER BY e.occurred_at) AS copy_rank
    FROM raw_order_events AS e
    WHERE e.dt BETWEEN :start AND :end
)
SELECT
    e.event_id,
    e.event_type,
    e.occurred_at,
    e.order_id,
    e.session_id,
    e.customer AS buyer,
    e.country,
    e.currency,
    l.line,
    l.seller_id,
    l.product_id,
    l.qty,
    l.unit_cents,
    l.amount_cents,
    l.kind,
    l.platform,
    e.dt
FROM events AS e
CROSS JOIN UNNEST(e.lines) AS l (line, seller_id, product_id, qty, unit_cents, amount_cents, kind, platform)
WHERE e.copy_rank = 1
