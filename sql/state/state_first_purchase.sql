-- The first purchase of each buyer from each seller, kept in the partition of its day: for the
-- range :start..:end, the (seller, buyer) pairs of stg_sales in the range that no partition before
-- :start holds yet. So the whole table holds every pair once, and its partition of day D holds the
-- buyers new to their seller on D - what seller_daily_sales and buyer_cohorts need from the history,
-- without reading it. A cancelled first order is still a first purchase (the line stays in stg_sales).
-- The pairs are looked up by `pair_key`, a 60-bit fingerprint of (seller, buyer): the history is read
-- as one integer column instead of two strings (docs/incremental.md: the odds that a new pair's key
-- is already taken, which would count a new buyer as returning, are about 1 in 10^7 per night for a
-- year of 10 million sales lines).
WITH in_range AS (
    SELECT
        seller_id,
        buyer,
        min(dt) AS first_dt,
        from_base(substr(to_hex(md5(to_utf8(seller_id || '|' || buyer))), 1, 15), 16) AS pair_key
    FROM stg_sales
    WHERE dt BETWEEN :start AND :end
    GROUP BY seller_id, buyer
),
known AS (
    -- only the range's keys: the engine streams the state past a small set (a semi join) instead
    -- of holding every pair in a hash table (docs/incremental.md: 1.7 s and 950 MB -> 0.55 s, 310 MB)
    SELECT pair_key
    FROM state_first_purchase
    WHERE dt < :start
      AND pair_key IN (SELECT pair_key FROM in_range)
)
SELECT r.seller_id, r.buyer, r.pair_key, r.first_dt AS dt
FROM in_range AS r
LEFT JOIN known AS k ON k.pair_key = r.pair_key
WHERE k.pair_key IS NULL
