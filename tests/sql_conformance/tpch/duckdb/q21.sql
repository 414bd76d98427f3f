-- Q21 suppliers who kept orders waiting (Saudi Arabia, sole late supplier of a finished order).
with order_suppliers as (
    select
        l_orderkey as orderkey,
        count(distinct l_suppkey) as suppliers,
        count(distinct l_suppkey) filter (where l_receiptdate > l_commitdate) as late_suppliers
    from lineitem
    group by l_orderkey
)
select s_name, count(*) as numwait
from lineitem
join supplier on s_suppkey = l_suppkey
join nation on n_nationkey = s_nationkey
join orders on o_orderkey = l_orderkey
join order_suppliers on orderkey = l_orderkey
where n_name = 'SAUDI ARABIA'
    and o_orderstatus = 'F'
    and l_receiptdate > l_commitdate
    and suppliers > 1
    and late_suppliers = 1
group by s_name
order by numwait desc, s_name
limit 100
