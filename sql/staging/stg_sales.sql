-- One row per order line sold, deduplicated by (order_id, line): the latest version of the
-- DynamoDB item wins. `returned_*` tie cancellations and refunds to the line they undo (the
-- line's status in the storefront is the truth; stg_event_lines holds the events themselves).
WITH ranked AS (
    SELECT
        s.*,
        row_number() OVER (
            PARTITION BY s.order_id, s.line
            ORDER BY s.updated_at DESC NULLS LAST, s.sk
        ) AS version_rank
    FROM raw_sales AS s
    WHERE s.dt BETWEEN :start AND :end
)
SELECT
    order_id,
    line,
    seller_id,
    product_id,
    kind,
    platform,
    genre,
    sold_at,
    qty,
    unit_cents,
    amount_cents,
    currency,
    country,
    customer AS buyer,
    status,
    CASE WHEN status IN ('cancelled', 'refunded') THEN qty ELSE 0 END AS returned_qty,
    CASE WHEN status IN ('cancelled', 'refunded') THEN amount_cents ELSE 0 END AS returned_cents,
    updated_at,
    dt
FROM ranked
WHERE version_rank = 1
