-- Q4 order priority checking (orders of 1993 Q3 with a line received after its commit date).
select o_orderpriority, count(*) as order_count
from orders
semi join (select l_orderkey from lineitem where l_commitdate < l_receiptdate) late
    on late.l_orderkey = o_orderkey
where o_orderdate >= date '1993-07-01' and o_orderdate < date '1993-10-01'
group by o_orderpriority
order by o_orderpriority
