-- Per product and day where product views exist: sessions that viewed it, sessions that added it
-- to a cart (and how many of those had viewed it that day), sessions that started a checkout with
-- it, and orders placed for it that day.
WITH views AS (
    SELECT product_id, dt, arbitrary(seller_id) AS seller_id,
           count(*) AS views, count(DISTINCT session_id) AS view_sessions
    FROM stg_event_lines
    WHERE dt BETWEEN :start AND :end AND event_type = 'product_viewed'
    GROUP BY product_id, dt
),
viewed AS (
    SELECT DISTINCT product_id, dt, session_id
    FROM stg_event_lines
    WHERE dt BETWEEN :start AND :end AND event_type = 'product_viewed'
),
carts AS (
    SELECT
        c.product_id,
        c.dt,
        count(DISTINCT c.session_id) AS cart_sessions,
        count(DISTINCT v.session_id) AS viewed_cart_sessions,
        sum(c.qty) AS cart_units
    FROM stg_event_lines AS c
    LEFT JOIN viewed AS v ON v.product_id = c.product_id AND v.dt = c.dt AND v.session_id = c.session_id
    WHERE c.dt BETWEEN :start AND :end AND c.event_type = 'cart_added'
    GROUP BY c.product_id, c.dt
),
checkouts AS (
    SELECT product_id, dt, count(DISTINCT session_id) AS checkout_sessions
    FROM stg_event_lines
    WHERE dt BETWEEN :start AND :end AND event_type = 'checkout_started'
    GROUP BY product_id, dt
),
ordered AS (
    SELECT product_id, dt, count(DISTINCT order_id) AS orders, sum(qty) AS units
    FROM stg_event_lines
    WHERE dt BETWEEN :start AND :end AND event_type = 'order_placed'
    GROUP BY product_id, dt
)
SELECT
    v.product_id,
    v.seller_id,
    v.views,
    v.view_sessions,
    coalesce(c.cart_sessions, 0) AS cart_sessions,
    coalesce(c.viewed_cart_sessions, 0) AS viewed_cart_sessions,
    coalesce(c.cart_units, 0) AS cart_units,
    coalesce(k.checkout_sessions, 0) AS checkout_sessions,
    coalesce(o.orders, 0) AS orders,
    coalesce(o.units, 0) AS units,
    CAST(coalesce(c.viewed_cart_sessions, 0) AS double) / v.view_sessions AS view_to_cart_rate,
    CAST(coalesce(o.orders, 0) AS double) / v.view_sessions AS orders_per_view_session,
    v.dt
FROM views AS v
LEFT JOIN carts AS c ON c.product_id = v.product_id AND c.dt = v.dt
LEFT JOIN checkouts AS k ON k.product_id = v.product_id AND k.dt = v.dt
LEFT JOIN ordered AS o ON o.product_id = v.product_id AND o.dt = v.dt
