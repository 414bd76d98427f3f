-- Q7 volume shipping (France and Germany, both directions, 1995 and 1996).
select supp_nation, cust_nation, l_year, sum(volume) as revenue
from (
    select
        sn.n_name as supp_nation,
        cn.n_name as cust_nation,
        year(l_shipdate) as l_year,
        l_extendedprice * (1 - l_discount) as volume
    from lineitem
    join supplier on s_suppkey = l_suppkey
    join orders on o_orderkey = l_orderkey
    join customer on c_custkey = o_custkey
    join nation sn on sn.n_nationkey = s_nationkey
    join nation cn on cn.n_nationkey = c_nationkey
    where [sn.n_name, cn.n_name] in (['FRANCE', 'GERMANY'], ['GERMANY', 'FRANCE'])
        and year(l_shipdate) in (1995, 1996)
)
group by all
order by all
