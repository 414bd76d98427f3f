-- Q18 large volume customer (orders of more than 300 units).
with big_order as (
    select l_orderkey as orderkey, sum(l_quantity) as total_quantity
    from lineitem
    group by l_orderkey
    having sum(l_quantity) > 300
)
select c_name, c_custkey, o_orderkey, o_orderdate, o_totalprice, total_quantity
from big_order
join orders on o_orderkey = orderkey
join customer on c_custkey = o_custkey
order by o_totalprice desc, o_orderdate
limit 100
