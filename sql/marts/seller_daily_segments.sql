-- seller_daily_sales broken down by the buyer's country and the product's platform. Sales count on
-- the sale day, cancellations and refunds on their own day, as in seller_daily_sales: summed over
-- segments, every figure equals the seller's day there.
WITH sales_day AS (
    SELECT
        seller_id, dt, currency,
        coalesce(country, 'unknown') AS country,
        coalesce(platform, 'none') AS platform,
        count(DISTINCT order_id) AS orders,
        sum(qty) AS units,
        sum(amount_cents) AS gross_cents
    FROM stg_sales
    WHERE dt BETWEEN :start AND :end
    GROUP BY 1, 2, 3, 4, 5
),
returns_day AS (
    SELECT
        seller_id, dt, currency,
        coalesce(country, 'unknown') AS country,
        coalesce(platform, 'none') AS platform,
        sum(qty) AS refunded_units,
        sum(amount_cents) AS refund_cents
    FROM stg_event_lines
    WHERE dt BETWEEN :start AND :end
      AND event_type IN ('order_refunded', 'order_cancelled')
    GROUP BY 1, 2, 3, 4, 5
)
SELECT
    coalesce(s.seller_id, r.seller_id) AS seller_id,
    coalesce(s.country, r.country) AS country,
    coalesce(s.platform, r.platform) AS platform,
    coalesce(s.currency, r.currency) AS currency,
    coalesce(s.orders, 0) AS orders,
    coalesce(s.units, 0) AS units,
    coalesce(s.gross_cents, 0) AS gross_cents,
    coalesce(r.refunded_units, 0) AS refunded_units,
    coalesce(r.refund_cents, 0) AS refund_cents,
    coalesce(s.gross_cents, 0) - coalesce(r.refund_cents, 0) AS net_cents,
    coalesce(s.dt, r.dt) AS dt
FROM sales_day AS s
FULL OUTER JOIN returns_day AS r
    ON r.seller_id = s.seller_id AND r.dt = s.dt AND r.currency = s.currency
   AND r.country = s.country AND r.platform = s.platform
