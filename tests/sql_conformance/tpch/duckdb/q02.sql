-- Q2 minimum cost supplier (size 15 brass parts, cheapest European supplier).
with europe_offer as (
    select ps_partkey, ps_supplycost, s_acctbal, s_name, s_address, s_phone, s_comment, n_name
    from partsupp
    join supplier on s_suppkey = ps_suppkey
    join nation on n_nationkey = s_nationkey
    join region on r_regionkey = n_regionkey
    where r_name = 'EUROPE'
),
cheapest as (
    select ps_partkey, min(ps_supplycost) as min_cost
    from europe_offer
    group by ps_partkey
)
select s_acctbal, s_name, n_name, p_partkey, p_mfgr, s_address, s_phone, s_comment
from part
join europe_offer o on o.ps_partkey = p_partkey
join cheapest c on c.ps_partkey = p_partkey and c.min_cost = o.ps_supplycost
where p_size = 15 and suffix(p_type, 'BRASS')
order by s_acctbal desc, n_name, s_name, p_partkey
limit 100
