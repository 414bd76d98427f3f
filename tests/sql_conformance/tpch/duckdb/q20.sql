-- Q20 potential part promotion (Canadian suppliers with surplus "forest" parts, 1994).
with shipped as (
    select l_partkey, l_suppkey, sum(l_quantity) as quantity
    from lineitem
    where year(l_shipdate) = 1994
    group by l_partkey, l_suppkey
),
surplus as (
    select distinct ps_suppkey
    from partsupp
    join part on p_partkey = ps_partkey
    join shipped on l_partkey = ps_partkey and l_suppkey = ps_suppkey
    where starts_with(p_name, 'forest')
        and ps_availqty > 0.5 * quantity
)
select s_name, s_address
from supplier
join nation on n_nationkey = s_nationkey
join surplus on ps_suppkey = s_suppkey
where n_name = 'CANADA'
order by s_name
