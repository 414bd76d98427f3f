-- Q12 shipping modes and order priority (MAIL and SHIP, received late in 1994).
select
    l_shipmode,
    count(*) filter (where o_orderpriority in ('1-URGENT', '2-HIGH')) as high_line_count,
    count(*) filter (where o_orderpriority not in ('1-URGENT', '2-HIGH')) as low_line_count
from lineitem
join orders on o_orderkey = l_orderkey
where l_shipmode in ('MAIL', 'SHIP')
    and l_shipdate < l_commitdate
    and l_commitdate < l_receiptdate
    and year(l_receiptdate) = 1994
group by l_shipmode
order by l_shipmode
