-- Per seller (every seller of the day's sellers snapshot, dim_sellers) and day: rolling 7- and
-- 28-day figures ending that day, growth against the 7 / 28 days before them, and the seller's
-- position among the sellers of its category that day. The category comparison uses orders, not
-- money: sellers of one category sell in different currencies.
WITH days AS (
    SELECT d AS day, CAST(d AS varchar) AS dt
    FROM UNNEST(sequence(date(:start), date(:end), INTERVAL '1' DAY)) AS t (d)
),
sellers AS (
    SELECT seller_id, coalesce(category, 'unknown') AS category, currency, dt
    FROM dim_sellers
    WHERE dt BETWEEN :start AND :end
),
daily AS (
    SELECT seller_id, date(dt) AS day, orders, net_cents
    FROM marts_seller_daily_sales
    WHERE dt BETWEEN CAST(date(:start) - INTERVAL '55' DAY AS varchar) AND :end
),
rolling AS (
    SELECT
        s.seller_id,
        s.category,
        s.currency,
        d.dt,
        coalesce(sum(CASE WHEN x.day > d.day - INTERVAL '7' DAY THEN x.orders END), 0) AS orders_7d,
        coalesce(sum(CASE WHEN x.day > d.day - INTERVAL '28' DAY THEN x.orders END), 0) AS orders_28d,
        coalesce(sum(CASE WHEN x.day > d.day - INTERVAL '7' DAY THEN x.net_cents END), 0) AS net_7d_cents,
        coalesce(sum(CASE WHEN x.day <= d.day - INTERVAL '7' DAY
                           AND x.day > d.day - INTERVAL '14' DAY THEN x.net_cents END), 0) AS net_prev_7d_cents,
        coalesce(sum(CASE WHEN x.day > d.day - INTERVAL '28' DAY THEN x.net_cents END), 0) AS net_28d_cents,
        coalesce(sum(CASE WHEN x.day <= d.day - INTERVAL '28' DAY THEN x.net_cents END), 0) AS net_prev_28d_cents
    FROM sellers AS s
    JOIN days AS d ON d.dt = s.dt
    LEFT JOIN daily AS x
        ON x.seller_id = s.seller_id
       AND x.day > d.day - INTERVAL '56' DAY
       AND x.day <= d.day
    GROUP BY s.seller_id, s.category, s.currency, d.dt
),
ranked AS (
    SELECT
        r.*,
        row_number() OVER (PARTITION BY r.dt, r.category ORDER BY r.orders_28d, r.seller_id) AS position,
        count(*) OVER (PARTITION BY r.dt, r.category) AS category_sellers
    FROM rolling AS r
),
medians AS (
    -- the exact median: the middle value, or the mean of the two middle values
    SELECT dt, category, avg(CAST(orders_28d AS double)) AS category_median_orders_28d
    FROM ranked
    WHERE position IN ((category_sellers + 1) / 2, (category_sellers + 2) / 2)
    GROUP BY dt, category
)
SELECT
    r.seller_id,
    r.category,
    r.currency,
    r.orders_7d,
    r.orders_28d,
    r.net_7d_cents,
    r.net_prev_7d_cents,
    r.net_28d_cents,
    r.net_prev_28d_cents,
    CASE WHEN r.net_prev_7d_cents > 0
         THEN CAST(r.net_7d_cents - r.net_prev_7d_cents AS double) / r.net_prev_7d_cents END AS wow_growth,
    CASE WHEN r.net_prev_28d_cents > 0
         THEN CAST(r.net_28d_cents - r.net_prev_28d_cents AS double) / r.net_prev_28d_cents END AS mom_growth,
    r.category_sellers,
    m.category_median_orders_28d,
    CASE WHEN m.category_median_orders_28d > 0
         THEN r.orders_28d / m.category_median_orders_28d END AS orders_28d_vs_category_median,
    CAST(r.position AS double) / r.category_sellers AS category_percentile,
    r.dt
FROM ranked AS r
JOIN medians AS m ON m.dt = r.dt AND m.category = r.category
