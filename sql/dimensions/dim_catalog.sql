-- The catalog as it stands when the snapshot is taken, one copy for every day of the range, read
-- live through the federated DynamoDB catalog. A day's snapshot is taken again until it has been
-- taken after the day ended; from then on it is kept, so it holds the catalog at the end of its
-- day and the marts of that day keep that day's titles and prices (pipelines/marts/snapshots.py).
WITH days AS (
    SELECT CAST(d AS varchar) AS dt
    FROM UNNEST(sequence(date(:start), date(:end), INTERVAL '1' DAY)) AS t (d)
)
SELECT
    c.product_id,
    c.seller_id,
    c.title,
    c.kind,
    c.platform,
    c.genre,
    CAST(c.price_cents AS bigint) AS price_cents,
    c.currency,
    CAST(c.active AS boolean) AS active,
    CAST(current_timestamp AS timestamp(3)) AS taken_at,
    d.dt
FROM dynamodb.default.catalog AS c
CROSS JOIN days AS d
