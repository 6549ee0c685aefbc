"""Tables edited outside the daily run (by `podcast-brief feeds/subscribers`): declared so lineage shows them."""

import dagster as dg

feeds = dg.AssetSpec(
    "feeds",
    description="Registered podcast feeds (table `feeds`), edited with `podcast-brief feeds add/remove`.",
    kinds={"duckdb"},
    group_name="registry",
)

subscribers = dg.AssetSpec(
    "subscribers",
    description="Subscribers and their interests (table `subscribers`), edited with `podcast-brief subscribers`.",
    kinds={"duckdb"},
    group_name="registry",
)
