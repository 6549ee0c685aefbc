-- Every insight with its show, episode, cluster label and a deep link to the moment in the audio.
{{ config(materialized='view') }}
select
    i.partition_date,
    i.insight_id,
    i.episode_id,
    e.feed_url,
    e.show_title,
    e.title as episode_title,
    i.headline,
    i.text,
    i.score,
    i.start_s,
    i.end_s,
    -- Media Fragments (#t=seconds): players that support it start where the insight starts.
    e.audio_url || '#t=' || cast(floor(i.start_s) as bigint) as deep_link,
    c.cluster_id,
    s.label as cluster_label
from {{ source('warehouse', 'insights') }} as i
left join {{ source('warehouse', 'episodes') }} as e
    on e.partition_date = i.partition_date and e.episode_id = i.episode_id
left join {{ source('warehouse', 'insight_clusters') }} as c
    on c.partition_date = i.partition_date and c.insight_id = i.insight_id
left join {{ source('warehouse', 'cluster_summaries') }} as s
    on s.partition_date = c.partition_date and s.cluster_id = c.cluster_id
