-- Q8 national market share (Brazil in America, ECONOMY ANODIZED STEEL, 1995 and 1996).
select
    year(o_orderdate) as o_year,
    sum(if(sn.n_name = 'BRAZIL', l_extendedprice * (1 - l_discount), 0))
        / sum(l_extendedprice * (1 - l_discount)) as mkt_share
from lineitem
join part on p_partkey = l_partkey
join supplier on s_suppkey = l_suppkey
join nation sn on sn.n_nationkey = s_nationkey
join orders on o_orderkey = l_orderkey
join customer on c_custkey = o_custkey
join nation cn on cn.n_nationkey = c_nationkey
join region on r_regionkey = cn.n_regionkey
where r_name = 'AMERICA'
    and p_type = 'ECONOMY ANODIZED STEEL'
    and o_orderdate between date '1995-01-01' and date '1996-12-31'
group by o_year
order by o_year
