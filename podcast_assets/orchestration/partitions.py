import dagster as dg

# Partition = the UTC publication day of the episodes.
daily_partitions = dg.DailyPartitionsDefinition(start_date="2026-01-01", timezone="UTC")
