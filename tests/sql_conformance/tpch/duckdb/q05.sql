-- Q5 local supplier volume (Asia, 1994, customer and supplier of the same nation).
select n_name, sum(l_extendedprice * (1 - l_discount)) as revenue
from region
join nation on n_regionkey = r_regionkey
join customer on c_nationkey = n_nationkey
join orders on o_custkey = c_custkey
join lineitem on l_orderkey = o_orderkey
join supplier on s_suppkey = l_suppkey and s_nationkey = n_nationkey
where r_name = 'ASIA'
    and year(o_orderdate) = 1994
group by n_name
order by revenue desc
