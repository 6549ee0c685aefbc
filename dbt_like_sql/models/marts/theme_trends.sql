-- Themes (cluster labels) over the 7 and 30 days up to the partition's day, each marked
-- new (first seen in the last 7 days), rising (daily rate over the last 7 days at least 1.5x the
-- 23 days before), fading (at most half that rate, or absent for a week) or steady.
{{ config(materialized='partition', lookback_days=29) }}
with window_clusters as (
    select
        partition_date,
        lower(trim(label)) as theme,
        trim(label) as label,
        coalesce(size, 0) as size,
        coalesce(n_shows, 0) as n_shows,
        salience,
        partition_date >= {{ partition_date }} - 6 as in_last_7d
    from {{ source('warehouse', 'cluster_summaries') }}
    where partition_date between {{ partition_date }} - 29 and {{ partition_date }}
        and nullif(trim(label), '') is not null
),

per_theme as (
    select
        theme,
        arg_max(label, partition_date) as label,
        min(partition_date) as first_seen_date,
        max(partition_date) as last_seen_date,
        count(distinct partition_date) filter (where in_last_7d) as days_seen_7d,
        count(distinct partition_date) as days_seen_30d,
        coalesce(sum(size) filter (where in_last_7d), 0) as insights_7d,
        coalesce(sum(size) filter (where not in_last_7d), 0) as insights_prior_23d,
        sum(size) as insights_30d,
        coalesce(max(n_shows) filter (where in_last_7d), 0) as max_shows_7d,
        avg(salience) filter (where in_last_7d) as avg_salience_7d
    from window_clusters
    group by theme
)

select
    {{ partition_date }} as partition_date,
    theme,
    label,
    case
        when insights_prior_23d = 0 then 'new'
        when insights_7d = 0 then 'fading'
        when insights_7d / 7.0 >= 1.5 * insights_prior_23d / 23.0 then 'rising'
        when insights_7d / 7.0 <= 0.5 * insights_prior_23d / 23.0 then 'fading'
        else 'steady'
    end as trend,
    insights_7d,
    insights_prior_23d,
    insights_30d,
    days_seen_7d,
    days_seen_30d,
    max_shows_7d,
    avg_salience_7d,
    first_seen_date,
    last_seen_date
from per_theme
order by insights_7d desc, theme
