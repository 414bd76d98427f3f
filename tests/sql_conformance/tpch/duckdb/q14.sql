-- Q14 promotion effect (share of September 1995's revenue from PROMO parts, in percent).
select
    100.00 * sum(l_extendedprice * (1 - l_discount)) filter (where starts_with(p_type, 'PROMO'))
        / sum(l_extendedprice * (1 - l_discount)) as promo_revenue
from lineitem
join part on p_partkey = l_partkey
where l_shipdate >= date '1995-09-01' and l_shipdate < date '1995-10-01'
