-- Q11 important stock identification (German stock, parts above 0.0001 of its value).
with german_stock as (
    select ps_partkey, ps_supplycost * ps_availqty as stock_value
    from partsupp
    join supplier on s_suppkey = ps_suppkey
    join nation on n_nationkey = s_nationkey
    where n_name = 'GERMANY'
)
select ps_partkey, sum(stock_value) as value
from german_stock
group by ps_partkey
having sum(stock_value) > (select sum(stock_value) * 0.0001 from german_stock)
order by value desc
