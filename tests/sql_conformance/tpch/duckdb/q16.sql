-- Q16 parts/supplier relationship (suppliers without complaints, by brand, type and size).
select p_brand, p_type, p_size, count(distinct ps_suppkey) as supplier_cnt
from partsupp
join part on p_partkey = ps_partkey
anti join (select s_suppkey from supplier where s_comment like '%Customer%Complaints%') complained
    on complained.s_suppkey = ps_suppkey
where p_brand != 'Brand#45'
    and not starts_with(p_type, 'MEDIUM POLISHED')
    and p_size in (49, 14, 23, 45, 19, 3, 36, 9)
group by all
order by supplier_cnt desc, p_brand, p_type, p_size
