-- Per seller: buyers grouped by the month of their first purchase from that seller (the cohort),
-- and what each cohort bought in every later month. Partitioned by activity month (dt = its first
-- day). Month 0 is the cohort's own month; its repeat buyers are those with two or more orders.
WITH purchases AS (
    SELECT
        seller_id,
        buyer,
        order_id,
        amount_cents,
        currency,
        date_trunc('month', date(dt)) AS month
    FROM stg_sales
    WHERE dt < CAST(date_add('month', 1, date(:end)) AS varchar)
),
firsts AS (
    SELECT seller_id, buyer, min(month) AS cohort_month
    FROM purchases
    GROUP BY seller_id, buyer
),
sizes AS (
    SELECT seller_id, cohort_month, count(*) AS cohort_size
    FROM firsts
    GROUP BY seller_id, cohort_month
),
activity AS (
    SELECT
        p.seller_id,
        f.cohort_month,
        p.month AS activity_month,
        p.buyer,
        arbitrary(p.currency) AS currency,
        count(DISTINCT p.order_id) AS orders,
        sum(p.amount_cents) AS gross_cents
    FROM purchases AS p
    JOIN firsts AS f ON f.seller_id = p.seller_id AND f.buyer = p.buyer
    WHERE p.month BETWEEN date(:start) AND date(:end)
    GROUP BY p.seller_id, f.cohort_month, p.month, p.buyer
)
SELECT
    a.seller_id,
    CAST(a.cohort_month AS varchar) AS cohort_month,
    date_diff('month', a.cohort_month, a.activity_month) AS months_since_first,
    arbitrary(s.cohort_size) AS cohort_size,
    count(*) AS active_buyers,
    count_if(a.activity_month > a.cohort_month OR a.orders >= 2) AS repeat_buyers,
    CAST(count(*) AS double) / arbitrary(s.cohort_size) AS retention_rate,
    sum(a.orders) AS orders,
    sum(a.gross_cents) AS gross_cents,
    arbitrary(a.currency) AS currency,
    CAST(a.activity_month AS varchar) AS dt
FROM activity AS a
JOIN sizes AS s ON s.seller_id = a.seller_id AND s.cohort_month = a.cohort_month
GROUP BY a.seller_id, a.cohort_month, a.activity_month
