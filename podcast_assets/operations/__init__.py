"""Keeping runs safe to kill: who runs a Dagster run and whether it is alive, clearing dead runs and their pool
slots, waiting for pool slots without burning a core, per-day run locks, signals, and the delivery ledger."""
