# ruff: noqa: E501  (the episode scripts are prose, one paragraph per line)
"""The built-in demo network: four shows, scripted episodes with planted insights, ads and filler.

The scripts are the ground truth for tests and `podcast-brief eval demo`, in the labeled-network types of
`podcast_assets.evaluation.network`: every turn says what it is (`insight`, `ad`, `filler`), which theme and
idea it plants, and which voice speaks it. `build_media.py` turns them into the MP3s
under `media/` once; the demo HTTP server renders the feeds from this module at serve time.
"""

from __future__ import annotations

import datetime as dt

from podcast_assets.evaluation.network import NetworkEpisode, NetworkShow, Turn

DEMO_DAY = dt.date(2026, 11, 24)
PREVIOUS_DAY = DEMO_DAY - dt.timedelta(days=1)

# espeak-ng voices: several speakers and two accents. Chosen by measured tiny.en WER on these scripts
# (en-us 10%, en-us+m2 11%, en-us+m1 16%, en-gb 20%; the +f variants and en-029/scotland were 18-35%).
VOICES = {
    "us": "en-us",
    "us_m2": "en-us+m2",
    "us_m1": "en-us+m1",
    "gb": "en-gb",
}


def _show(
    slug: str,
    title: str,
    description: str,
    host_voice: str,
    guest_voice: str,
    feed_format: str,
    episodes: tuple[NetworkEpisode, ...],
) -> NetworkShow:
    return NetworkShow(
        slug, title, description, feed_format, episodes, {"host": VOICES[host_voice], "guest": VOICES[guest_voice]}
    )


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC)


def I(theme: str, idea: str, text: str, voice: str = "guest") -> Turn:  # noqa: E743
    return Turn("insight", text, voice, theme, idea)


def AD(text: str) -> Turn:
    return Turn("ad", text, "host")


def F(text: str, voice: str = "host") -> Turn:
    return Turn("filler", text, voice)


GRID_REPORT = _show(
    slug="grid-report",
    title="The Grid Report",
    description="Energy storage and the power grid, every week.",
    host_voice="us",
    guest_voice="us_m2",
    feed_format="rss",
    episodes=(
        NetworkEpisode(
            slug="grid-report-41",
            title="Sodium steps up",
            description="A battery chemist on sodium-ion cells, why solid-state batteries keep failing, and California's grid batteries at the evening peak.",
            published_at=_at(DEMO_DAY, 6, 30),
            turns=(
                F("Welcome back to the Grid Report. I'm your host Sam, and today my guest is a battery chemist."),
                I(
                    "batteries",
                    "sodium_cost",
                    "Sodium ion battery cells became about twenty percent cheaper than lithium iron phosphate cells this year, because sodium is abundant and needs no cobalt or nickel.",
                ),
                I(
                    "batteries",
                    "solid_state_interface",
                    "Solid state batteries still fail mostly at the interface between the lithium metal anode and the ceramic electrolyte, where tiny dendrites crack the separator.",
                ),
                AD(
                    "This episode is brought to you by VoltBox, the portable power station for camping trips. Use promo code GRID for twenty percent off at voltbox dot com."
                ),
                F("Yeah, I mean, it's kind of wild, right? Okay, let's keep going.", "guest"),
                I(
                    "batteries",
                    "grid_evening_peak",
                    "Grid batteries in California now deliver more power than gas plants during the evening peak on most summer days.",
                ),
                F("That's all for today. Thanks for listening, and don't forget to subscribe."),
            ),
        ),
        NetworkEpisode(
            slug="grid-report-42",
            title="Batteries that last a hundred hours",
            description="Iron-air batteries for calm winter weeks, and what battery recycling plants get back out of old packs.",
            published_at=_at(DEMO_DAY, 15, 0),
            turns=(
                F("Hello and welcome to another episode of the Grid Report. Thanks to everyone who left us a review."),
                I(
                    "batteries",
                    "iron_air_duration",
                    "Iron air batteries can store electricity for one hundred hours, which makes them a cheap backup for several calm winter days without wind.",
                ),
                I(
                    "batteries",
                    "recycling_recovery",
                    "Recycling plants now recover more than ninety percent of the lithium, nickel and cobalt from old electric car battery packs.",
                ),
                AD(
                    "Today's show is sponsored by VoltBox. Power your next road trip with a VoltBox battery pack, and get free shipping with code GRID at voltbox dot com."
                ),
                F("Anyway, so, you know, where were we? Right.", "guest"),
                F("We will be back next week with more from the world of energy. Bye for now."),
            ),
        ),
        NetworkEpisode(
            slug="grid-report-40",
            title="Heat pumps and the winter peak",
            description="Heat pumps in deep cold and the winter peak.",
            published_at=_at(PREVIOUS_DAY, 7, 0),
            turns=(
                F("Welcome to the Grid Report. Today we talk about winter."),
                I(
                    "heat",
                    "heat_pump_cold",
                    "Modern heat pumps keep working at minus twenty degrees, so cold climates are no longer a reason to burn gas for heating.",
                ),
                F("Thanks for listening, see you next time."),
            ),
        ),
    ),
)

MODEL_BEHAVIOR = _show(
    slug="model-behavior",
    title="Model Behavior",
    description="Conversations about how neural networks think.",
    host_voice="us_m2",
    guest_voice="us",
    feed_format="rss",
    episodes=(
        NetworkEpisode(
            slug="model-behavior-17",
            title="Looking inside Mamba",
            description="An interpretability researcher on Mamba, mixture-of-experts routing and sparse autoencoders.",
            published_at=_at(DEMO_DAY, 9, 0),
            turns=(
                F("Hi everyone, welcome to Model Behavior. I'm joined today by an interpretability researcher."),
                I(
                    "ai_interpretability",
                    "transfer_to_mamba",
                    "Contrary to fears, interpretability techniques built for transformers seem to work on Mamba and mixture of experts models too.",
                ),
                I(
                    "ai_interpretability",
                    "sparse_autoencoders",
                    "Sparse autoencoders can split a single neuron into thousands of readable features, such as one feature that fires only for deception.",
                ),
                AD(
                    "Today's sponsor is CloudPilot, the easiest way to deploy your apps. Sign up for a free trial at cloudpilot dot io and get your first month free."
                ),
                I(
                    "ai_interpretability",
                    "moe_routing",
                    "Mixture of experts routing may even make models easier to read, because each expert ends up specializing in a narrow topic.",
                ),
                F("Thanks so much for coming on the show. And thank you all for listening."),
            ),
        ),
        NetworkEpisode(
            slug="model-behavior-18",
            title="When the explanation is a story",
            description="Chain-of-thought explanations, lie-detecting probes on hidden activations, and circuit tracing of how a model writes a poem.",
            published_at=_at(DEMO_DAY, 18, 0),
            turns=(
                F("Welcome back to Model Behavior. Let's get right into it."),
                I(
                    "ai_interpretability",
                    "chain_of_thought",
                    "Chain of thought explanations often do not reflect the real computation, because models reach the answer first and write the reasoning afterwards.",
                ),
                I(
                    "ai_interpretability",
                    "lie_probes",
                    "Simple linear probes on the hidden activations of a language model can detect when it is lying with more than ninety percent accuracy in controlled tests.",
                ),
                I(
                    "ai_interpretability",
                    "rhyme_planning",
                    "Circuit tracing showed that language models plan the rhyming word of a poem several tokens before they write it.",
                ),
                AD(
                    "This episode is supported by CloudPilot. Go to cloudpilot dot io slash behavior to claim your discount."
                ),
                F("Okay, that's a wrap. Subscribe wherever you get your podcasts."),
            ),
        ),
    ),
)

DEEP_REST = _show(
    slug="deep-rest",
    title="Deep Rest",
    description="The science of sleep, explained.",
    host_voice="us",
    guest_voice="us_m1",
    feed_format="atom",
    episodes=(
        NetworkEpisode(
            slug="deep-rest-8",
            title="Cold rooms and short nights",
            description="Short nights and catching colds, the best bedroom temperature, and morning sunlight.",
            published_at=_at(DEMO_DAY, 5, 0),
            turns=(
                F("Welcome to Deep Rest, the show about the science of sleep. I'm your host."),
                I(
                    "sleep",
                    "short_sleep_colds",
                    "People who sleep less than six hours a night catch colds four times more often than people who sleep seven hours or more.",
                ),
                I(
                    "sleep",
                    "cool_bedroom",
                    "Keeping the bedroom at about eighteen degrees Celsius helps you fall asleep faster than a warm room does.",
                ),
                AD(
                    "This show is sponsored by DreamWeave mattresses. Visit dreamweave dot com and use code REST to get fifteen percent off your first mattress."
                ),
                I(
                    "sleep",
                    "morning_light",
                    "Ten minutes of morning sunlight shifts your body clock earlier and makes it easier to fall asleep at night.",
                ),
                F("That is it for this week. Sleep well, everyone."),
            ),
        ),
        NetworkEpisode(
            slug="deep-rest-9",
            title="The caffeine clock",
            description="Caffeine's half-life, weekend catch-up sleep, and what deep sleep clears from the brain.",
            published_at=_at(DEMO_DAY, 12, 0),
            turns=(
                F("Hello, and welcome back to Deep Rest. Before we start, a quick thank you to our listeners."),
                I(
                    "sleep",
                    "caffeine_half_life",
                    "Caffeine has a half life of about five hours, so a coffee at four in the afternoon still has half its effect at nine in the evening.",
                ),
                I(
                    "sleep",
                    "weekend_catch_up",
                    "Contrary to popular advice, catching up on sleep at the weekend does not repair the metabolic damage of a short week.",
                ),
                I(
                    "sleep",
                    "glymphatic",
                    "During deep sleep the brain's glymphatic system flushes out waste proteins that are linked to Alzheimer's disease.",
                ),
                AD(
                    "Support for Deep Rest comes from DreamWeave. Their cooling pillows come with a one hundred night free trial at dreamweave dot com."
                ),
                F("Thanks for listening, and sweet dreams."),
            ),
        ),
    ),
)

MORNING_SIGNAL = _show(
    slug="morning-signal",
    title="Morning Signal",
    description="The science and technology news you need, in ten minutes.",
    host_voice="us_m2",
    guest_voice="gb",
    feed_format="rss",
    episodes=(
        NetworkEpisode(
            slug="morning-signal-301",
            title="Cheap sodium, lying models and sick sleepers",
            description="Sodium-ion prices, fast charging and battery ageing, probes that catch language models lying, and short sleep.",
            published_at=_at(DEMO_DAY, 7, 0),
            turns=(
                F("Good morning and welcome to Morning Signal, your daily science briefing."),
                I(
                    "batteries",
                    "sodium_cost",
                    "New pricing data shows sodium ion cells are now roughly a fifth cheaper than lithium iron phosphate cells, since sodium is plentiful and uses no cobalt.",
                    "host",
                ),
                I(
                    "batteries",
                    "fast_charge_myth",
                    "Contrary to popular belief, fast charging to eighty percent every day barely hurts a modern lithium iron phosphate battery, and heat is what really ages the cells.",
                    "host",
                ),
                AD(
                    "Support for this podcast comes from Brightly meal kits. Go to brightly dot com slash signal for a special offer on your first box."
                ),
                I(
                    "ai_interpretability",
                    "lie_probes",
                    "A new study found that linear probes reading a language model's internal activations catch it lying over ninety percent of the time.",
                    "guest",
                ),
                I(
                    "sleep",
                    "short_sleep_colds",
                    "Sleeping under six hours a night makes you about four times more likely to catch a cold than sleeping seven hours.",
                    "guest",
                ),
                F("That's the signal for today. See you tomorrow morning."),
            ),
        ),
        NetworkEpisode(
            slug="morning-signal-302",
            title="Hundred hour batteries and weekend sleep",
            description="Hundred-hour iron-air batteries, interpretability beyond transformers, and weekend sleep.",
            published_at=_at(DEMO_DAY, 19, 30),
            publisher_transcript=True,
            turns=(
                F("Good evening, this is a special edition of Morning Signal."),
                I(
                    "batteries",
                    "iron_air_duration",
                    "Iron air batteries that hold a charge for a hundred hours could back up the grid through several windless winter days at a low cost.",
                    "host",
                ),
                I(
                    "ai_interpretability",
                    "transfer_to_mamba",
                    "Researchers report that interpretability tools designed for transformers also work on Mamba and mixture of experts architectures.",
                    "guest",
                ),
                AD(
                    "Morning Signal is brought to you by Brightly. Fresh ingredients, delivered. Use code SIGNAL at brightly dot com."
                ),
                I(
                    "sleep",
                    "weekend_catch_up",
                    "Sleeping in on the weekend does not undo the metabolic harm of sleeping too little during the week, a new trial shows.",
                    "guest",
                ),
                F("Thanks for listening to Morning Signal."),
            ),
        ),
    ),
)

SHOWS: tuple[NetworkShow, ...] = (GRID_REPORT, MODEL_BEHAVIOR, DEEP_REST, MORNING_SIGNAL)

# Demo subscribers: one per theme, plus one with interests that the network never speaks about.
DEMO_SUBSCRIBERS = (
    {
        "email": "ada@example.com",
        "name": "Ada",
        "interests": "battery chemistry, energy storage, electric grid",
        "theme": "batteries",
    },
    {
        "email": "grace@example.com",
        "name": "Grace",
        "interests": "AI interpretability, how language models work inside",
        "theme": "ai_interpretability",
    },
    {"email": "linus@example.com", "name": "Linus", "interests": "sleep science, health, insomnia", "theme": "sleep"},
)


def all_episodes() -> list[tuple[NetworkShow, NetworkEpisode]]:
    return [(show, episode) for show in SHOWS for episode in show.episodes]
