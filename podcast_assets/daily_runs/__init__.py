"""Running a day from outside Dagster's UI: the runner behind `podcast-brief run` and the demo, and its summary."""
