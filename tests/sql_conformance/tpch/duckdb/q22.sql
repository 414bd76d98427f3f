-- Q22 global sales opportunity (seven country codes, above-average balance, no orders).
with candidate as (
    select c_custkey, c_phone[1:2] as cntrycode, c_acctbal
    from customer
    where c_phone[1:2] in ('13', '31', '23', '29', '30', '18', '17')
)
select cntrycode, count(*) as numcust, sum(c_acctbal) as totacctbal
from candidate
anti join orders on o_custkey = c_custkey
where c_acctbal > (select avg(c_acctbal) from candidate where c_acctbal > 0.00)
group by cntrycode
order by cntrycode
