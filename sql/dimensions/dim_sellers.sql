-- The sellers as they stand when the snapshot is taken, one copy for every day of the range, read
-- live through the federated DynamoDB catalog; the contact e-mail (encrypted PII) is never read.
-- A day's snapshot is kept once it has been taken after the day ended
-- (pipelines/marts/snapshots.py).
WITH days AS (
    SELECT CAST(d AS varchar) AS dt
    FROM UNNEST(sequence(date(:start), date(:end), INTERVAL '1' DAY)) AS t (d)
)
SELECT
    s.seller_id,
    s.display_name,
    s.country,
    s.currency,
    s.category,
    CAST(current_timestamp AS timestamp(3)) AS taken_at,
    d.dt
FROM dynamodb.default.sellers AS s
CROSS JOIN days AS d
