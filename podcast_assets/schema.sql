-- The warehouse tables. Every daily-partitioned table is written per partition_date (delete, then insert).
CREATE TABLE IF NOT EXISTS feeds (
    feed_url VARCHAR PRIMARY KEY,
    title VARCHAR,
    added_at TIMESTAMP,
    etag VARCHAR,
    last_modified VARCHAR,
    last_polled_at TIMESTAMP,
    last_status INTEGER,
    last_error VARCHAR,
    cache_path VARCHAR
);

CREATE TABLE IF NOT EXISTS episodes (
    partition_date DATE NOT NULL,
    episode_id VARCHAR NOT NULL,
    feed_url VARCHAR NOT NULL,
    show_title VARCHAR,
    guid VARCHAR,
    title VARCHAR,
    link VARCHAR,
    published_at TIMESTAMP,
    audio_url VARCHAR,
    audio_type VARCHAR,
    audio_path VARCHAR,
    audio_bytes BIGINT,
    audio_sha256 VARCHAR,
    duration_s DOUBLE,
    transcript_url VARCHAR,
    transcript_type VARCHAR,
    transcript_path VARCHAR,
    transcript_error VARCHAR,
    status VARCHAR NOT NULL,
    error VARCHAR,
    fetched_at TIMESTAMP
);

CREATE TABLE IF NOT EXISTS transcripts (
    partition_date DATE NOT NULL,
    episode_id VARCHAR NOT NULL,
    segment_index INTEGER NOT NULL,
    start_s DOUBLE NOT NULL,
    end_s DOUBLE NOT NULL,
    text VARCHAR,
    speaker VARCHAR,
    source VARCHAR NOT NULL,
    model VARCHAR,
    language VARCHAR
);

-- One row per ok episode of the day: how its transcript was made, or why there is none.
CREATE TABLE IF NOT EXISTS transcript_status (
    partition_date DATE NOT NULL,
    episode_id VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    source VARCHAR,
    model VARCHAR,
    language VARCHAR,
    device VARCHAR,
    n_segments INTEGER,
    audio_s DOUBLE,
    wall_s DOUBLE,
    error VARCHAR,
    audio_sha256 VARCHAR  -- the audio this ASR transcript was made from: same hash + model = reused on re-runs
);

CREATE TABLE IF NOT EXISTS subscribers (
    subscriber_id VARCHAR PRIMARY KEY,
    email VARCHAR UNIQUE NOT NULL,
    name VARCHAR,
    interests VARCHAR NOT NULL,
    feeds VARCHAR[],
    created_at TIMESTAMP,
    active BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE TABLE IF NOT EXISTS insights (
    partition_date DATE NOT NULL,
    insight_id VARCHAR NOT NULL,
    episode_id VARCHAR NOT NULL,
    start_s DOUBLE NOT NULL,
    end_s DOUBLE NOT NULL,
    text VARCHAR NOT NULL,
    headline VARCHAR,
    score DOUBLE NOT NULL,
    signals VARCHAR
);

-- insight_embeddings is created by its asset: the FLOAT[d] dimension comes from the model.

CREATE TABLE IF NOT EXISTS insight_clusters (
    partition_date DATE NOT NULL,
    insight_id VARCHAR NOT NULL,
    cluster_id VARCHAR NOT NULL,
    similarity_to_centroid DOUBLE
);

CREATE TABLE IF NOT EXISTS cluster_summaries (
    partition_date DATE NOT NULL,
    cluster_id VARCHAR NOT NULL,
    label VARCHAR,
    size INTEGER,
    n_episodes INTEGER,
    n_shows INTEGER,
    salience DOUBLE,
    trend VARCHAR
);

CREATE TABLE IF NOT EXISTS briefs (
    partition_date DATE NOT NULL,
    subscriber_id VARCHAR NOT NULL,
    rank INTEGER NOT NULL,
    insight_id VARCHAR NOT NULL,
    score DOUBLE,
    relevance DOUBLE,
    cluster_id VARCHAR,
    related_insight_ids VARCHAR[]
);

-- The text briefs show for each shown insight (picks, "also on", related) after the second ASR pass over its span;
-- `insights.text` keeps the first pass. status: second_pass (text re-transcribed), headline (the writer's
-- rewrite is shown), empty (nothing heard: first pass shown), failed (error: first pass shown).
CREATE TABLE IF NOT EXISTS shown_passages (
    partition_date DATE NOT NULL,
    insight_id VARCHAR NOT NULL,
    first_pass_text VARCHAR NOT NULL,
    text VARCHAR NOT NULL,
    model VARCHAR,
    status VARCHAR NOT NULL,
    audio_s DOUBLE,
    wall_s DOUBLE,
    error VARCHAR
);

CREATE TABLE IF NOT EXISTS brief_documents (
    partition_date DATE NOT NULL,
    subscriber_id VARCHAR NOT NULL,
    n_insights INTEGER NOT NULL,
    status VARCHAR NOT NULL,
    markdown VARCHAR,
    html VARCHAR,
    text VARCHAR,
    path VARCHAR
);

-- Not delete-then-insert: a delivered row is never rewritten, so a re-run never sends twice. Status (see
-- podcast_assets/operations/deliveries.py): sending (written before the SMTP transaction), sent, written (outbox),
-- failed (not delivered, retried by the next run), rejected (5xx, not retried), unknown_after_crash (the run died
-- during the transaction) and unknown_no_reply (no answer after the message): not resent unless asked.
CREATE TABLE IF NOT EXISTS brief_deliveries (
    partition_date DATE NOT NULL,
    subscriber_id VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    message_id VARCHAR,
    sent_at TIMESTAMP,
    error VARCHAR,
    attempts INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (partition_date, subscriber_id)
);

-- One row per SMTP/outbox attempt of a brief: `triggered_by` is `run` (brief_deliveries) or `resend` (an operator's
-- `podcast-brief deliveries resend`). The never_sent_twice check counts the run attempts that may have delivered.
CREATE TABLE IF NOT EXISTS delivery_attempts (
    partition_date DATE NOT NULL,
    subscriber_id VARCHAR NOT NULL,
    attempt INTEGER NOT NULL,
    message_id VARCHAR NOT NULL,
    triggered_by VARCHAR NOT NULL,
    run_id VARCHAR,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    outcome VARCHAR NOT NULL,
    smtp_code INTEGER,
    error VARCHAR,
    PRIMARY KEY (partition_date, subscriber_id, attempt)
);

-- One row per failed run, written by the run-failure sensor (podcast_assets/orchestration/sensors.py).
CREATE TABLE IF NOT EXISTS run_failures (
    run_id VARCHAR PRIMARY KEY,
    job_name VARCHAR NOT NULL,
    partition_key VARCHAR,
    failed_at TIMESTAMP NOT NULL,
    failed_steps VARCHAR[],
    error VARCHAR,
    launched_by VARCHAR,
    alerted BOOLEAN NOT NULL DEFAULT FALSE
);

-- Seconds a CPU or GPU worker was busy per step, written by the cost hooks (podcast_assets/operations/costs.py).
-- cpu_s is process CPU time (all threads); gpu_s is the step's wall time when it ran on CUDA.
CREATE TABLE IF NOT EXISTS run_costs (
    run_id VARCHAR NOT NULL,
    step_key VARCHAR NOT NULL,
    partition_date DATE,
    job_name VARCHAR,
    asset_keys VARCHAR[],
    pool VARCHAR,
    device VARCHAR NOT NULL,
    outcome VARCHAR NOT NULL,
    cpu_s DOUBLE NOT NULL,
    gpu_s DOUBLE NOT NULL,
    wall_s DOUBLE,
    recorded_at TIMESTAMP NOT NULL,
    PRIMARY KEY (run_id, step_key)
);

-- Columns added after a table first shipped: existing warehouses gain them on the next connect.
ALTER TABLE transcript_status ADD COLUMN IF NOT EXISTS audio_sha256 VARCHAR;
ALTER TABLE episodes ADD COLUMN IF NOT EXISTS id_note VARCHAR;
ALTER TABLE briefs ADD COLUMN IF NOT EXISTS relevance_margin DOUBLE;
ALTER TABLE briefs ADD COLUMN IF NOT EXISTS also_on_insight_ids VARCHAR[];
ALTER TABLE episodes ADD COLUMN IF NOT EXISTS description VARCHAR;
ALTER TABLE brief_deliveries ADD COLUMN IF NOT EXISTS smtp_code INTEGER;
-- When the audio_retention job deleted the episode's audio (audio_path is then null; a re-run downloads it again).
ALTER TABLE episodes ADD COLUMN IF NOT EXISTS audio_deleted_at TIMESTAMP;
-- feeds, subscribers, brief_deliveries and delivery_attempts live in the catalog (podcast_assets/catalog/); the
-- tables above are read-only copies the daily run refreshes for SQL models and joins (catalog/mirror.py).
ALTER TABLE subscribers ADD COLUMN IF NOT EXISTS confirmed_at TIMESTAMP;
ALTER TABLE subscribers ADD COLUMN IF NOT EXISTS unsubscribed_at TIMESTAMP;
ALTER TABLE subscribers ADD COLUMN IF NOT EXISTS paused BOOLEAN;
ALTER TABLE subscribers ADD COLUMN IF NOT EXISTS source VARCHAR;

-- Podcasting 2.0 chapters and persons of each episode, and each insight's chapter and speaker (assets/credits.py).
CREATE TABLE IF NOT EXISTS episode_chapters (
    partition_date DATE NOT NULL,
    episode_id VARCHAR NOT NULL,
    start_s DOUBLE NOT NULL,
    title VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS episode_persons (
    partition_date DATE NOT NULL,
    episode_id VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    role VARCHAR NOT NULL,
    person_group VARCHAR NOT NULL,
    href VARCHAR
);
CREATE TABLE IF NOT EXISTS insight_credits (
    partition_date DATE NOT NULL,
    insight_id VARCHAR NOT NULL,
    chapter VARCHAR,
    speaker VARCHAR
);
-- One MP3 per subscriber with a brief (assets/audio_briefs.py).
CREATE TABLE IF NOT EXISTS audio_briefs (
    partition_date DATE NOT NULL,
    subscriber_id VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    clips INTEGER NOT NULL,
    duration_s DOUBLE NOT NULL,
    bytes BIGINT NOT NULL
);
