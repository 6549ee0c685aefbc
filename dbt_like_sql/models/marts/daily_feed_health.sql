-- Per feed and day: episodes found, ok and failed, how their transcripts were made (publisher or ASR),
-- and hours of audio. Every registered feed gets a row, so a feed that went silent shows up as zeros, and a feed
-- that could not be read (down, refused, not well-formed XML) shows its latest poll error.
{{ config(materialized='partition') }}
with day_episodes as (
    select *
    from {{ source('warehouse', 'episodes') }}
    where partition_date = {{ partition_date }}
),

day_transcripts as (
    select *
    from {{ source('warehouse', 'transcript_status') }}
    where partition_date = {{ partition_date }}
),

registered as (
    select feed_url, title, last_error
    from {{ source('warehouse', 'feeds') }}
    where added_at is null or cast(added_at as date) <= {{ partition_date }}
),

all_feeds as (
    select feed_url from registered
    union
    select feed_url from day_episodes
),

episode_counts as (
    select
        feed_url,
        any_value(show_title) as show_title,
        count(*) as episodes_found,
        count(*) filter (where status = 'ok') as episodes_ok,
        count(*) filter (where status = 'failed') as episodes_failed,
        coalesce(sum(duration_s) filter (where status = 'ok'), 0) / 3600.0 as audio_hours
    from day_episodes
    group by feed_url
),

transcript_counts as (
    select
        e.feed_url,
        count(*) filter (where t.status = 'ok' and t.source = 'publisher') as transcripts_publisher,
        count(*) filter (where t.status = 'ok' and t.source = 'asr') as transcripts_asr,
        count(*) filter (where t.status <> 'ok') as transcripts_failed_or_empty,
        sum(t.audio_s) filter (where t.status = 'ok' and t.source = 'asr') as asr_audio_s,
        sum(t.wall_s) filter (where t.status = 'ok' and t.source = 'asr') as asr_wall_s
    from day_transcripts as t
    inner join day_episodes as e on e.episode_id = t.episode_id
    group by e.feed_url
)

select
    {{ partition_date }} as partition_date,
    f.feed_url,
    coalesce(ec.show_title, r.title, f.feed_url) as show_title,
    coalesce(ec.episodes_found, 0) as episodes_found,
    coalesce(ec.episodes_ok, 0) as episodes_ok,
    coalesce(ec.episodes_failed, 0) as episodes_failed,
    coalesce(tc.transcripts_publisher, 0) as transcripts_publisher,
    coalesce(tc.transcripts_asr, 0) as transcripts_asr,
    coalesce(tc.transcripts_failed_or_empty, 0) as transcripts_failed_or_empty,
    tc.transcripts_publisher::double
        / nullif(tc.transcripts_publisher + tc.transcripts_asr, 0) as publisher_transcript_share,
    coalesce(ec.audio_hours, 0) as audio_hours,
    coalesce(tc.asr_audio_s, 0) / 3600.0 as asr_audio_hours,
    -- Seconds of audio transcribed per second of wall time (x real time).
    tc.asr_audio_s / nullif(tc.asr_wall_s, 0) as asr_speed_x_realtime,
    r.last_error as feed_last_error
from all_feeds as f
left join registered as r on r.feed_url = f.feed_url
left join episode_counts as ec on ec.feed_url = f.feed_url
left join transcript_counts as tc on tc.feed_url = f.feed_url
order by f.feed_url
