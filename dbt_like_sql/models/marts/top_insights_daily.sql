-- The day's top insights across all subscribers' briefs (var top_insights_per_day, 25 by default): how many
-- briefs each reached and in how many it was delivered, with its show, episode, cluster label and deep link.
{{ config(materialized='partition') }}
with day_briefs as (
    select *
    from {{ source('warehouse', 'briefs') }}
    where partition_date = {{ partition_date }}
),

day_deliveries as (
    select subscriber_id, status
    from {{ source('warehouse', 'brief_deliveries') }}
    where partition_date = {{ partition_date }}
),

reach as (
    select
        b.insight_id,
        count(distinct b.subscriber_id) as n_briefs,
        count(distinct b.subscriber_id) filter (where d.status in ('sent', 'written')) as n_delivered,
        min(b.rank) as best_rank_in_brief,
        avg(b.relevance) as avg_relevance
    from day_briefs as b
    left join day_deliveries as d on d.subscriber_id = b.subscriber_id
    group by b.insight_id
),

-- A brief may reuse an earlier day's insight: take the insight's latest row up to this day.
insight_details as (
    select *
    from {{ ref('stg_insights') }}
    where partition_date <= {{ partition_date }}
    qualify row_number() over (partition by insight_id order by partition_date desc) = 1
),

ranked as (
    select
        r.*,
        i.partition_date as insight_date,
        i.score,
        i.headline,
        i.text,
        i.show_title,
        i.episode_title,
        i.cluster_label,
        i.deep_link,
        row_number() over (
            order by r.n_briefs desc, r.n_delivered desc, i.score desc nulls last, r.insight_id
        ) as insight_rank
    from reach as r
    left join insight_details as i on i.insight_id = r.insight_id
)

select
    {{ partition_date }} as partition_date,
    insight_rank,
    insight_id,
    n_briefs,
    n_delivered,
    best_rank_in_brief,
    avg_relevance,
    score,
    headline,
    text,
    show_title,
    episode_title,
    cluster_label,
    deep_link,
    insight_date
from ranked
where insight_rank <= {{ var('top_insights_per_day', 25) }}
order by insight_rank
