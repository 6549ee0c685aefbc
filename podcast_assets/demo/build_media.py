"""Generate the demo network's MP3s (run once, output committed): `python -m podcast_assets.demo.build_media`.

The same builder as every labeled network (`podcast_assets.evaluation.build_media`), on the demo's scripts.
"""

from podcast_assets.evaluation.build_media import build
from podcast_assets.evaluation.network import demo_network

if __name__ == "__main__":
    build(demo_network())
