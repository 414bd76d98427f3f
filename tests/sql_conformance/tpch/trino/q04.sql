-- Q4 order priority checking: orders of the quarter from 1993-07-01 with at least one line item
-- received after its commit date, by order priority.
SELECT
    o_orderpriority,
    count(*) AS order_count
FROM orders
WHERE o_orderdate >= DATE '1993-07-01'
    AND o_orderdate < date_add('month', 3, DATE '1993-07-01')
    AND EXISTS (
        SELECT *
        FROM lineitem
        WHERE l_orderkey = o_orderkey
            AND l_commitdate < l_receiptdate
    )
GROUP BY o_orderpriority
ORDER BY o_orderpriority
