-- Per seller and order day: how the orders placed that day (the seller's lines of them) were
-- fulfilled since: shipped, delivered, cancelled, and how long it took. Later events update past
-- days, so recent partitions are rebuilt as those events arrive (events up to 90 days after the
-- order are read).
WITH placed AS (
    SELECT order_id, seller_id, min(occurred_at) AS placed_at, min(dt) AS dt
    FROM stg_event_lines
    WHERE dt BETWEEN :start AND :end
      AND event_type = 'order_placed'
    GROUP BY order_id, seller_id
),
later AS (
    SELECT
        order_id,
        seller_id,
        min(CASE WHEN event_type = 'order_shipped' THEN occurred_at END) AS shipped_at,
        min(CASE WHEN event_type = 'order_delivered' THEN occurred_at END) AS delivered_at,
        min(CASE WHEN event_type = 'order_cancelled' THEN occurred_at END) AS cancelled_at
    FROM stg_event_lines
    WHERE dt BETWEEN :start AND CAST(date(:end) + INTERVAL '90' DAY AS varchar)
      AND event_type IN ('order_shipped', 'order_delivered', 'order_cancelled')
    GROUP BY order_id, seller_id
)
SELECT
    p.seller_id,
    count(*) AS orders,
    count(l.shipped_at) AS shipped_orders,
    count(l.delivered_at) AS delivered_orders,
    count(l.cancelled_at) AS cancelled_orders,
    CAST(count(l.shipped_at) AS double) / count(*) AS shipped_rate,
    CAST(count(l.cancelled_at) AS double) / count(*) AS cancellation_rate,
    avg(date_diff('second', p.placed_at, l.shipped_at)) / 3600.0 AS avg_hours_to_ship,
    CAST(max(date_diff('second', p.placed_at, l.shipped_at)) AS double) / 3600 AS max_hours_to_ship,
    avg(date_diff('second', p.placed_at, l.delivered_at)) / 3600.0 AS avg_hours_to_deliver,
    CAST(max(date_diff('second', p.placed_at, l.delivered_at)) AS double) / 3600 AS max_hours_to_deliver,
    p.dt
FROM placed AS p
LEFT JOIN later AS l ON l.order_id = p.order_id AND l.seller_id = p.seller_id
GROUP BY p.seller_id, p.dt
