-- A feed's ok and failed episodes never exceed those found, nor its transcripts its ok episodes.
select *
from {{ ref('daily_feed_health') }} as h
where h.episodes_ok + h.episodes_failed > h.episodes_found
    or h.transcripts_publisher + h.transcripts_asr > h.episodes_ok
    or h.audio_hours < 0
