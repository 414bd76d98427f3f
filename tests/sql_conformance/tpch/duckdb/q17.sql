-- Q17 small-quantity-order revenue (Brand#23 MED BOX, below a fifth of the average quantity).
with part_average as (
    select l_partkey as partkey, avg(l_quantity) as avg_quantity
    from lineitem
    group by l_partkey
)
select sum(l_extendedprice) / 7.0 as avg_yearly
from lineitem
join part on p_partkey = l_partkey
join part_average on partkey = l_partkey
where p_brand = 'Brand#23'
    and p_container = 'MED BOX'
    and l_quantity < 0.2 * avg_quantity
