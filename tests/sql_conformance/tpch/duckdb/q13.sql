-- Q13 customer distribution (orders per customer, "special ... requests" orders left out).
with per_customer as (
    select c_custkey, count(o_orderkey) as c_count
    from customer
    left join (select o_orderkey, o_custkey from orders where o_comment not like '%special%requests%') o
        on o.o_custkey = c_custkey
    group by c_custkey
)
select c_count, count(*) as custdist
from per_customer
group by c_count
order by custdist desc, c_count desc
