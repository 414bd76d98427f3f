-- Q6 forecasting revenue change (1994, discount 5 to 7 percent, fewer than 24 units).
select sum(l_extendedprice * l_discount) as revenue
from lineitem
where year(l_shipdate) = 1994
    and l_discount >= 0.05 and l_discount <= 0.07
    and l_quantity < 24
