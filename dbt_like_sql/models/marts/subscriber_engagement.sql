-- Per subscriber, over all days: briefs made, deliveries done and failed, insights received,
-- and the last delivery.
{{ config(materialized='table') }}
with documents as (
    select
        subscriber_id,
        count(*) filter (where n_insights > 0) as briefs_made,
        count(*) filter (where n_insights = 0) as empty_briefs,
        min(partition_date) filter (where n_insights > 0) as first_brief_date,
        max(partition_date) filter (where n_insights > 0) as last_brief_date
    from {{ source('warehouse', 'brief_documents') }}
    group by subscriber_id
),

deliveries as (
    select
        subscriber_id,
        count(*) filter (where status in ('sent', 'written')) as deliveries_done,
        count(*) filter (where status = 'failed') as deliveries_failed,
        max(partition_date) filter (where status in ('sent', 'written')) as last_delivered_date,
        max(sent_at) as last_sent_at
    from {{ source('warehouse', 'brief_deliveries') }}
    group by subscriber_id
),

received as (
    select b.subscriber_id, count(*) as insights_received
    from {{ source('warehouse', 'briefs') }} as b
    inner join {{ source('warehouse', 'brief_deliveries') }} as d
        on d.partition_date = b.partition_date and d.subscriber_id = b.subscriber_id
    where d.status in ('sent', 'written')
    group by b.subscriber_id
)

select
    s.subscriber_id,
    s.name,
    s.active,
    s.created_at,
    coalesce(doc.briefs_made, 0) as briefs_made,
    coalesce(doc.empty_briefs, 0) as empty_briefs,
    coalesce(d.deliveries_done, 0) as deliveries_done,
    coalesce(d.deliveries_failed, 0) as deliveries_failed,
    coalesce(rc.insights_received, 0) as insights_received,
    d.deliveries_done::double / nullif(doc.briefs_made, 0) as delivery_rate,
    doc.first_brief_date,
    doc.last_brief_date,
    d.last_delivered_date,
    d.last_sent_at
from {{ source('warehouse', 'subscribers') }} as s
left join documents as doc on doc.subscriber_id = s.subscriber_id
left join deliveries as d on d.subscriber_id = s.subscriber_id
left join received as rc on rc.subscriber_id = s.subscriber_id
order by s.subscriber_id
