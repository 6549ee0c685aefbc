"""Podcast Brief: daily podcast insights as Dagster software-defined assets."""
