-- Per product and sale day: units, revenue, and the share of those units cancelled or refunded
-- since (the lines' current status), with the product's rank by units that day among the
-- products sold in its genre and on its platform (units, because revenue in different currencies
-- does not compare). Titles come from the day's catalog snapshot (dim_catalog), so a rebuilt day
-- keeps that day's titles; kind, platform and genre are those the sales lines recorded.
WITH titles AS (
    SELECT product_id, title, dt
    FROM dim_catalog
    WHERE dt BETWEEN :start AND :end
),
product_day AS (
    SELECT
        product_id,
        dt,
        arbitrary(seller_id) AS seller_id,
        arbitrary(kind) AS kind,
        arbitrary(platform) AS platform,
        arbitrary(genre) AS genre,
        arbitrary(currency) AS currency,
        count(DISTINCT order_id) AS orders,
        sum(qty) AS units,
        sum(amount_cents) AS gross_cents,
        sum(returned_qty) AS returned_units,
        sum(returned_cents) AS returned_cents
    FROM stg_sales
    WHERE dt BETWEEN :start AND :end
    GROUP BY product_id, dt
)
SELECT
    p.product_id,
    p.seller_id,
    c.title,
    p.kind,
    p.platform,
    p.genre,
    p.currency,
    p.orders,
    p.units,
    p.gross_cents,
    p.returned_units,
    p.returned_cents,
    p.gross_cents - p.returned_cents AS net_cents,
    CAST(p.returned_units AS double) / p.units AS refund_rate,
    rank() OVER (PARTITION BY p.dt, p.genre ORDER BY p.units DESC) AS rank_in_genre,
    rank() OVER (PARTITION BY p.dt, p.platform ORDER BY p.units DESC) AS rank_in_platform,
    p.dt
FROM product_day AS p
LEFT JOIN titles AS c ON c.product_id = p.product_id AND c.dt = p.dt
