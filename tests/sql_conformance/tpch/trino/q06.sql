-- Q6 forecasting revenue change: the revenue 1994's small-quantity line items with a discount of
-- 0.06 +/- 0.01 brought in through that discount.
SELECT sum(l_extendedprice * l_discount) AS revenue
FROM lineitem
WHERE l_shipdate >= DATE '1994-01-01'
    AND l_shipdate < date_add('year', 1, DATE '1994-01-01')
    AND l_discount BETWEEN 0.06 - 0.01 AND 0.06 + 0.01
    AND l_quantity < 24
