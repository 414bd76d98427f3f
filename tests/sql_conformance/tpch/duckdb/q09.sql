-- Q9 product type profit measure (parts named with "green", by nation and year).
select
    n_name as nation,
    year(o_orderdate) as o_year,
    sum(l_extendedprice * (1 - l_discount) - ps_supplycost * l_quantity) as sum_profit
from lineitem
join part on p_partkey = l_partkey
join partsupp on ps_partkey = l_partkey and ps_suppkey = l_suppkey
join supplier on s_suppkey = l_suppkey
join nation on n_nationkey = s_nationkey
join orders on o_orderkey = l_orderkey
where contains(p_name, 'green')
group by all
order by nation, o_year desc
