"""What a spoken sentence is doing in the conversation: asking, framing, selling, greeting, or saying something.

Cues are the generic ways English-speaking hosts talk, written from how podcasts work (agenda-setting, host
transitions, host-read ads with a URL or an offer), not from any one network's phrasing. Each function answers
for one sentence; passages and scores are built from them in `segmenting` and `scoring`.
"""

from __future__ import annotations

import re

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS


def _words(*phrases: str) -> str:
    return "|".join(phrases)


# --- questions -----------------------------------------------------------------------------------------------
_AUX = r"(is|are|was|were|do|does|did|can|could|would|should|will|has|have|had|happens|happened|made|makes|if)"
_INTERROGATIVE_START = re.compile(
    r"^(so,?\s+|and,?\s+|but,?\s+|okay,?\s+|ok,?\s+|well,?\s+|now,?\s+)?("
    + _words(
        # A wh-word asks only when the verb comes next ("Why do buses bunch?"), not in "When one bus runs late, ..."
        rf"(what|why|how|who|where|when|which)('s|'re| {_AUX}\b)", r"how (much|many|long|often|come|big|fast)",
        r"what about", r"why not",
        # Yes/no questions open with the verb: "Are most volcanoes watched?" (ASR often drops the "?")
        # ... with a subject after the verb: "Did as well as the others" is the rest of a sentence cut by ASR
        r"(do|does|did) (?!(as|so|not|well|too|more|less|better|worse|much|little)\b)\w+",
        r"(are|is|can|could|would|will|should|have|has|was|were) (a|an|most|many|some|all|any|the|these|this|that"
        r"|those|they|we|you|it|there|people|scientists|researchers)",
        r"do you", r"did you", r"does it", r"does that", r"is it", r"is that", r"is there", r"are there", r"are you",
        r"can you", r"could you", r"would you", r"will you", r"have you", r"should we", r"should i",
        r"tell (me|us)", r"walk (me|us) through", r"talk (me|us) through", r"help (me|us) understand",
        r"i'm curious", r"i am curious", r"i wonder", r"i want to ask", r"let me ask", r"my question",
    )
    + r")\b",
    re.IGNORECASE,
)  # fmt: skip


# A request for an answer anywhere in the sentence: "..., but tell me what else goes on in the fall."
_REQUEST = re.compile(
    r"\b(tell (me|us)|walk (me|us) through|talk (me|us) through|talk to (me|us) about|explain to (me|us)"
    r"|do you mean|are you saying|so you're saying|you mean|(is|are) there (any|anything|anyone|a way)"
    r"|is it (possible|true|worth|really)"
    # a question reported from a letter: "She's asking whether she should get another one."
    r"|(she|he|they|people|listeners)('s| is| are| was| were)? (asking|wondering) (whether|if|about|what|how|why)"
    # the host prompting the guest with what they said earlier: "Anil, you mentioned before we started..."
    r"|(?<!as )(?<!like )you (mentioned|told (me|us)|were telling (me|us)|brought up|wrote about))\b",
    re.I,
)


def is_question(sentence: str) -> bool:
    text = sentence.strip()
    return text.endswith("?") or bool(_INTERROGATIVE_START.match(text) or _REQUEST.search(text))


_TAG_QUESTION = re.compile(
    r"^(but |and |so )?(is|isn't|does|doesn't|do|are|was|did|can|could|will|would|has|have) (it|that|they|this"
    r"|he|she|we|you|there)( really| actually| though| now)?\?$",
    re.IGNORECASE,
)


def is_tag_question(sentence: str) -> bool:
    """A short question that puts the sentence before it up for debate: "Is it?", "Does it, though?"."""
    return bool(_TAG_QUESTION.match(sentence.strip()))


# What people are said to believe, put up for the guest to answer: "People assume the container failed at sea.
# Is that usually what happened?", "When people say sourdough is easier on your blood sugar. Is that real?"
_PREMISE = re.compile(
    r"\b((people|everyone|everybody|folks|listeners|you|a lot of (people|folks|you|listeners)|many|most)"
    r" (often |usually |always |generally |sometimes )?(assume|think|believe|say|claim|tell (me|us)|hear|figure|expect)"
    r"|the (common|conventional|usual) (wisdom|idea|advice|story|claim)|there's this (idea|claim|myth|belief))\b",
    re.IGNORECASE,
)
_ASKS_ABOUT_IT = re.compile(
    r"^(but |and |so |okay,? |well,? )?(is|isn't|was|wasn't|does|doesn't|did|are|can|could|would|do) (that|it|this"
    r"|there|they)\b",
    re.IGNORECASE,
)


def is_premise_of(sentence: str, question: str) -> bool:
    """`sentence` states a belief and `question`, right after it, asks whether it holds: the two are one
    question of the host's, not a claim."""
    return bool(_PREMISE.search(sentence)) and is_question(question) and bool(_ASKS_ABOUT_IT.match(question.strip()))


# A listener's letter read out: "Next, from a runner named Obi.", "First one is from Jess.", "She writes, ..."
_LETTER_LEAD = re.compile(
    r"^((first|next|this|another|the (first|next|last)|our (first|next|last))('s| is| comes)? from\b)"
    r"|\b(from (a |an )?[\w-]+( [\w-]+)? named|(she|he|they) (writes|wrote|asks|asked)|writes,"
    r"|wrote in (with|asking|to ask)|emailed (in|us) (with|to ask))\b"
    # "This next one comes from Dave.", "Okay, a quick one from Priyanka.", "One more tendon question, from ..."
    r"|^((okay|ok|alright|all right|so|and|right),?\s+)?([\w-]+\s+){0,3}(one|question|letter|email|message|note"
    r"|voicemail)('s)?,?\s+((is|comes|came)\s+)?from\b",
    re.IGNORECASE,
)


def leads_a_letter(sentence: str) -> bool:
    return bool(_LETTER_LEAD.search(sentence))


_TANGENT = re.compile(
    r"\b(side note|random (question|thought|aside)|off topic|totally unrelated|unrelated,|speaking of which"
    r"|speaking of (the )?(weather|snow|rain|food|coffee|tv)|did you (see|watch|hear|finish)|by the way"
    r"|(about|complain about|how's|how is) the weather|before we go on)\b",
    re.IGNORECASE,
)


def is_tangent(sentence: str) -> bool:
    return bool(_TANGENT.search(sentence))


_FIRST_OR_SECOND_PERSON = re.compile(r"\b(i|i'm|i've|i'd|me|my|you|your|you're)\b", re.IGNORECASE)


def is_small_talk(sentence: str) -> bool:
    """Talk about the speakers themselves ("I missed it", "you always say that"): how an aside goes on."""
    return bool(_FIRST_OR_SECOND_PERSON.search(sentence))


# A sentence that announces the next one: "Here's what the research shows."
_LEAD_IN = re.compile(
    r"^(so,?\s+|and,?\s+|look,?\s+)?(here's|here is|the thing (is|people miss)|what (we|they) found (is|was)"
    r"|the answer is|it's this|the short answer)\b|:$"
    r"|\bhere('s| is) (why|how|what|the (thing|deal|catch|reason))[.!]?$",  # "Probably not, and here's why."
    re.IGNORECASE,
)


# A study being set up ("A study in Luxembourg followed a few hundred runners for half a year...") whose result
# comes in the next sentence: the setup and its result are one idea.
_STUDY_SETUP = re.compile(r"\b(study|studies|trial|trials|survey|experiment|analysis|researchers|scientists)\b", re.I)
_RESULT_NUMBER = re.compile(r"\d|%|\b(percent|half|third|quarter|twice|double|times)\b", re.I)


def announces_next(sentence: str) -> bool:
    """A lead-in ("Here's what the research shows.") or the set-up of a study that does not yet say its result."""
    text = sentence.strip()
    if _LEAD_IN.search(text) and len(text.split()) <= 12:
        return True
    return bool(_STUDY_SETUP.search(text)) and not _RESULT_NUMBER.search(text) and not text.endswith("?")


# --- framing: agenda, transitions, introductions of people -----------------------------------------------------
_FRAMING = re.compile(
    r"\b("
    + _words(
        r"(today|tonight|this week|this episode|in this episode|on (the|today's|this) (show|episode)|later( on)?"
        r"|coming up|in a (bit|minute|moment)|first|next|after the break)\b[^.?!]{0,40}\b(we|we're|we are|we'll"
        r"|we will|i|i'm|i am|i'll|i will|let's)\s+(\w+\s+){0,2}(ask|asking|talk|talking|look|looking|discuss"
        r"|discussing|dig|digging|get|getting|explore|exploring|cover|covering|find out|hear|hearing|tackle"
        r"|tackling|answer|answering|unpack|unpacking|figure out|go through|turn|dive|diving|focus|focusing)",
        r"let's (talk|turn|move|get|dive|start|switch|go|look|dig|hear|begin|jump|bring|kick|pivot|shift|circle)",
        r"(we'll|we will|i'll|i will) (get|come back|talk|hear|dig|circle back|return)",
        r"(stick|hang) around", r"stay with us", r"after (the|this) break", r"first up", r"up next", r"next up",
        r"(my|our) (guest|guests)\b", r"joining (me|us)", r"with (me|us) (today|now|again|as always)",
        r"(is|are) here with (me|us)", r"thanks? (you )?(so much )?for (having|joining|coming|being)",
        r"(the|our|today's) (big )?question (is|for today)", r"that brings (us|me) to", r"which brings (us|me) to",
        r"moving on", r"on that note", r"(start|begin) (us )?(off )?with",
        r"(first|big) question", r"before we (get|start|dive|go|wrap)",
        r"(in|on) (the|our) (last|next|previous) episode",
        r"^(today's|tonight's|this week's) (topic|fight|question|story|theme|episode|debate|guest)",
        # the plan of the episode: "So the first half is all tendon rehab", "then we move on to kimchi"
        r"(the|our) (first|second) half (of the (show|episode|hour) )?is (all|about|on|going to be)",
        r"in the (first|second|last) half,? (we|i)\b",
        r"then we('ll| will)? (move on|move|turn|switch|go on) to",
        r"(at|by) the end,? (we|i)('ll| will)? (do|get|talk|answer|tackle|take|finish)",
        r"(i'll|we'll|i will|we will) (finish|end|wrap( up)?|close) (with|on)", r"(here's|here is) the plan",
        r"^(so,? )?(the|our) plan (is|for today)",
        r"(most|half|a lot|many|some|several) of you (wrote|asked|sent|voted|are voting|emailed|have been asking)",
        r"(switch|switching|change|changing) (gears|topics|subjects)",
    )
    + r")\b"
    # A short agenda line: "First up, dinosaurs.", "Our last fight today, coffee.", "Next one."
    + r"|^(first up|first|then|next|next up|after that|finally|and finally|our (last|next|final) \w+( today)?"
    r"|last but not least|one more)\b[^.!?]{0,45}[.!]?$"
    # "Okay, back to the mailbag.", "Anyway, back to the microbes."
    r"|^((okay|ok|alright|all right|right|so|anyway|now),?\s+)?back to (the|our|my|your) [^.!?]{0,30}[.!]?$",
    re.IGNORECASE,
)  # fmt: skip

_INTRO_OUTRO = re.compile(
    r"\b("
    + _words(
        r"welcome (back )?(to|aboard)", r"welcome,? everyone", r"hello,? (and welcome|everyone|everybody|friends)",
        r"(hey|hi),? (everyone|everybody|folks|friends|there)", r"good (morning|evening|afternoon),? (everyone|and)",
        r"you're listening to", r"you are listening to", r"this is (the )?[\w\s]{0,30}(podcast|show)",
        r"i'm your host", r"i am your host", r"(my|your) co-?host", r"as always",
        r"thanks? (you )?(all )?(so much )?for (listening|tuning in|watching)", r"subscribe", r"leave (us )?a review",
        r"left us a review", r"rate (us|the show)", r"see you (next|tomorrow|soon|then)", r"until next time",
        r"bye for now", r"take care", r"that's (all|it|a wrap|our show)( for)?", r"that is (all|it) for",
        r"we('ll| will) be back", r"back next week", r"catch you (next|later)", r"special edition", r"sleep well",
        r"sweet dreams", r"(find|follow) (me|us) (on|at)", r"show notes", r"tell a friend",
        r"if you (liked|enjoyed|loved) (it|this|the (show|episode)|this episode)", r"where can people find you",
    )
    + r")\b"
    + r"|^(this is|you're listening to) [^.!?,]{0,40}[.!]$"  # "This is Hard Disagree."
    + r"|^(and )?(that's|that is|that was|this has been)\b[^.!?]{0,40}\bfor (today|tonight|this week|this episode|now)"
    r"\s*[.!]?$",  # "That's the news for today."
    re.IGNORECASE,
)  # fmt: skip


# An agenda read as a list, without "we'll talk about": "So today, foulbrood, why beekeepers dusted every hive
# with antibiotics, and why that changed, and then...".
_AGENDA_LIST = re.compile(
    r"^(so,?\s+|okay,?\s+|right,?\s+)?(today|tonight|this week|this episode|on (the|today's) show)\b,?"
    r"(?=.*\b(and then|and why|and how|and what|first\b.*\bthen)\b)",
    re.IGNORECASE,
)


# Introducing a person: "I'm joined today by interpretability researcher Ana Ruiz." Only a short sentence, or one
# without evidence, is the introduction alone; a long one that goes on to a finding keeps the finding.
_INTRODUCTION = re.compile(
    r"\b(" + _words(
        r"(i'm|i am|we're|we are) (so )?(joined|lucky to be joined|thrilled to be joined)( today| here| now| again"
        r"| this week)? (by|with)", r"joins (me|us)", r"please welcome",
        r"(let me|let's|i want to) (welcome|introduce)", r"(say )?hello to (my|our)",
        r"(is|are) back (with|on) (me|us|the show)",
    ) + r")\b",
    re.IGNORECASE,
)  # fmt: skip
_INTRODUCTION_MAX_WORDS = 20
# A host turning to someone by name: "Marcus, you're the bread guy.", "Okay Fiona, let's cool things down."
_TURNING_TO = re.compile(
    r"^((?i:okay|ok|so|alright|all right|right|now),?\s+)?[A-Z][a-z]+,\s+(let's|let me|you're|you are|you've|you have"
    r"|over to you)\b"
)
_TURNING_TO_MAX_WORDS = 10


def is_framing(sentence: str) -> bool:
    text = sentence.strip()
    words = len(text.split())
    if _INTRODUCTION.search(text) and (words <= _INTRODUCTION_MAX_WORDS or not _EVIDENCE.search(text)):
        return True
    if _TURNING_TO.match(text) and words <= _TURNING_TO_MAX_WORDS and not _EVIDENCE.search(text):
        return True
    return bool(_FRAMING.search(text) or _AGENDA_LIST.search(text))


# A speaker saying who they are: "I'm Tom, I'm a physiotherapist, and ...", "Hi, I'm Dana and ...".
_SELF_INTRODUCTION = re.compile(
    r"^((?i:hi|hey|hello)( (?i:there|everyone|all))?,?\s+)?(?i:i'm|i am|my name is) [A-Z][a-z]+\.?"
    r"(,|\s+(?i:and|here)\b)"
)


def is_intro_outro(sentence: str) -> bool:
    text = sentence.strip()
    return bool(_INTRO_OUTRO.search(text) or _SELF_INTRODUCTION.match(text))


# A host's reaction to the question just read or asked, before answering it: "Jess, great question.", "Oh, Obi."
_VOCATIVE = re.compile(r"^([A-Z][a-z]{2,}),\s")
# Sentence openers that are not a name ("Honestly, ...", "Sure, ..."); words in -ly are never taken as names.
_NOT_A_NAME = ENGLISH_STOP_WORDS | frozenset(
    "okay yes yeah well look right sure sorry plus anyway instead first second third today tonight listen".split()
)
REACTION_MAX_WORDS = 16


def is_reaction(sentence: str) -> bool:
    text = sentence.strip()
    if len(text.split()) > REACTION_MAX_WORDS or _EVIDENCE.search(text):
        return False
    vocative = _VOCATIVE.match(text)
    word = vocative.group(1).lower() if vocative else ""
    addressed = bool(word) and not word.endswith("ly") and word not in _NOT_A_NAME
    return addressed or is_filler(text)


# --- ads, including host reads that never say "sponsor" --------------------------------------------------------
_AD_STRONG = re.compile(
    r"\b("
    + _words(
        r"sponsor(ed|s)?", r"brought to you by", r"made possible by", r"supported by", r"support (for|of) (this|the)"
        r" (show|podcast|episode)", r"promo code", r"(use|enter|with) (the )?code", r"coupon", r"free trial",
        r"free shipping", r"(percent|%) off (your|all|every|the first|first|orders?|when|with|at|today|for)",
        r"(your|their) first (month|order|box|year|week|purchase)", r"(a|one|two) free (months?|years?|weeks?)",
        r"listeners (get|can get|save)", r"special offer", r"exclusive (offer|deal)", r"a word from",
        r"quick (break|word)", r"(short|quick) message", r"for (just )?(a|one) dollar", r"money[- ]back",
        r"link (is )?in the (show notes|description)", r"terms (and conditions )?apply", r"(this|today's|this week's)"
        r" (break|episode|show) is (from|by|courtesy of|for)", r"download (it|the app),? (for )?free",
        r"(app|play) store", r"google play", r"(our|my) friends (at|over at)", r"keeps? (this|the) (show|lights)"
        r" (going|on|running|free)", r"tell them [^.!?]{0,40} sent you", r"mention (this|the|our) (show|podcast)",
    )
    + r")\b"
    + r"|\b[\w-]+\s?(\.|dot\s)(com|io|net|org|co|fm|app|shop)\b(\s?(/|slash\s)\w+)?",
    re.IGNORECASE,
)  # fmt: skip
# Alone these are ordinary speech; next to a strong cue they are the rest of the read.
_AD_WEAK = re.compile(
    r"\b("
    + _words(
        r"i('ve| have) been using", r"head (on )?over", r"go (on )?(over )?to", r"visit", r"check (it|them) out",
        r"sign up", r"download", r"order", r"offer", r"deal", r"discount", r"free", r"today", r"try", r"app",
        r"subscription", r"delivered", r"shipping", r"customers?", r"members?", r"plans? start", r"price",
        r"save", r"get (yours|started|your)", r"right now", r"gift", r"honestly", r"i love", r"(highly )?recommend",
        r"game changer", r"changed my", r"(ever|never) looked", r"for me",
    )
    + r")\b",
    re.IGNORECASE,
)  # fmt: skip
_BACK_TO_SHOW = re.compile(r"\b(back to (the|our) (show|conversation|interview)|and we're back|anyway,? back)\b", re.I)


def ad_strength(sentence: str) -> int:
    """2: the sentence is an ad on its own; 1: ad-like words that count only next to an ad; 0: none."""
    if _AD_STRONG.search(sentence):
        return 2
    return 1 if _AD_WEAK.search(sentence) else 0


_AD_LEAD = re.compile(
    r"\b(i('ve| have) been (using|wearing)|quick break|a word from|this (episode|show|podcast|hour) is"
    r"|today's episode is|(this|today's|this week's) break is|my (whole )?family uses"
    r"|(i want to|let me|gotta|got to|have to) tell you (all )?about|quick thing before we"
    r"|before we (keep going|go on|continue|get back|dive back))\b",
    re.IGNORECASE,
)
_AD_RUN_MAX = 3  # sentences before or after the sentence that sells
_AD_LEAD_MAX = 5  # how far back from it a lead-in ("I want to tell you about...") opens the read
_TESTIMONIAL = re.compile(r"\b(i|i'm|i've|my|me|it's the only|it is the only)\b", re.IGNORECASE)
_EVIDENCE = re.compile(r"\d|\b(percent|study|studies|research|researchers|data|survey|scientists)\b", re.I)


def _shared_brand(a: str, b: str) -> bool:
    """Both sentences use the same uncommon word of 5+ letters (in an ad, the brand or the product)."""

    def words(text: str) -> set[str]:
        return {w for w in re.findall(r"[a-z][a-z-]{4,}", text.lower()) if w not in ENGLISH_STOP_WORDS}

    return bool(words(a) & words(b))


def ad_mask(texts: list[str]) -> list[bool]:
    """Ad reads as runs of sentences around each one that sells outright (a URL, an offer): backwards to a
    lead-in ("I've been using...", "Quick break") within three sentences, forwards while the sentences carry
    ad words or name the same brand. Questions, framing and "back to the show" end a run."""
    strength = [ad_strength(text) for text in texts]
    mask = [s == 2 for s in strength]

    def stops(index: int) -> bool:
        text = texts[index]
        return bool(_BACK_TO_SHOW.search(text)) or is_question(text) or is_framing(text)

    def pitch_like(index: int) -> bool:
        """Could be part of a read: ad words, or the host talking about themselves ("I plan my whole day in
        it"), and no finding of the show's own (a quantity or a study)."""
        text = texts[index]
        return bool(strength[index] or _TESTIMONIAL.search(text)) and not _EVIDENCE.search(text)

    for index in [i for i, s in enumerate(strength) if s == 2]:
        for step in range(index - 1, max(index - 1 - _AD_LEAD_MAX, -1), -1):
            if stops(step):
                break
            if _EVIDENCE.search(texts[step]) and not strength[step]:
                break  # the show's own finding: the read starts after it
            if _AD_LEAD.search(texts[step]):
                while step > 0 and _AD_LEAD.search(texts[step - 1]):  # "Quick break." "I've been using..."
                    step -= 1
                for inside in range(step, index):
                    mask[inside] = True
                break
        # Without a lead-in, the testimonial sentences right before the offer.
        step = index - 1
        while step >= 0 and index - step <= _AD_RUN_MAX + 1 and not stops(step) and pitch_like(step):
            mask[step] = True
            step -= 1
        if index > 0 and strength[index - 1] == 1 and not stops(index - 1):
            mask[index - 1] = True
        # A pitch sentence between two selling sentences ("It syncs between your phone and laptop").
        following = next((j for j in range(index + 1, min(index + 3, len(texts))) if strength[j] == 2), None)
        for inside in range(index + 1, following or index):
            mask[inside] = True
        for step in range(index + 1, min(index + 1 + _AD_RUN_MAX, len(texts))):
            if stops(step) or not (strength[step] or _shared_brand(texts[index], texts[step]) or pitch_like(step)):
                break
            mask[step] = True
    return mask


# --- joining sentences into one idea ---------------------------------------------------------------------------
# A sentence that leans on the one before it: a "because", a consequence, evidence, or a pronoun pointing back.
_CONTINUATION = re.compile(
    r"^(and|but|so|which|that|this|these|those|it|its|it's|they|their|them|there|he|she|because|since|meaning"
    r"|that's|that is|this is|which means|the reason|for example|for instance|in fact|in other words|on average"
    r"|in one|one study|a study|the study|the data|the research|researchers|scientists|when (they|researchers|you)"
    r"|what (they|researchers) found|it turns out|turns out|as a result|overall|even|only|also|plus|then|instead"
    r"|otherwise|meanwhile|compared with|compared to|not a|not one|none of|who|whose|whom|whereas|while"
    r"|(much|most|some|part|all|none|half) of (it|this|that|them|those)"
    # an elliptical quantity that elaborates the sentence before: "About 10% more per minute, and ..."
    r"|(about|around|roughly|nearly|almost|close to|more than|less than|up to|only)\s+(\d|a (third|quarter|half)"
    r"|half|one in|two|three|four|five|six|seven|eight|nine|ten|twenty|thirty|forty|fifty|a hundred))\b",
    re.IGNORECASE,
)
# "Beyond thirty feet is fine too." leans on the sentence before it.
_POINTS_BACK_AT_END = re.compile(r"\b(too|as well)[.!]?$", re.IGNORECASE)


_DEFINITE_START = re.compile(r"^(the|these|those|such|that|this)\s+((?:[a-z'-]+\s+){0,2}[a-z'-]+)", re.IGNORECASE)


def _stem(word: str) -> str:
    return re.sub(r"('s|s|es)$", "", word.lower())


def continues_previous(sentence: str, previous: str | None = None) -> bool:
    """A discourse cue at the start, or a definite noun phrase naming what the previous sentence was about
    ("Towns are hiring goats to graze firebreaks." -> "The goats clear steep ground...")."""
    text = sentence.strip().lstrip("\"'“")
    if _CONTINUATION.match(text) or _POINTS_BACK_AT_END.search(text):
        return True
    definite = _DEFINITE_START.match(text)
    if previous is None or definite is None:
        return False
    named = {_stem(w) for w in definite.group(2).split() if len(w) >= 4 and w.lower() not in ENGLISH_STOP_WORDS}
    earlier = {_stem(w) for w in re.findall(r"[A-Za-z'-]{4,}", previous)}
    return bool(named & earlier)


# --- filler and backchannel ------------------------------------------------------------------------------------
_FILLER = re.compile(
    r"\b(i mean|you know|kind of wild|yeah|yep|okay|ok|anyway|where were we|right\?|totally|exactly|wow|huh|oh"
    r"|ha|haha|sure|uh|um|hmm|mm|wait|hold on|no way|love that|fair enough|good point|great point)\b",
    re.IGNORECASE,
)


def filler_count(sentence: str) -> int:
    return len(_FILLER.findall(sentence))


FILLER_WORDS_PER_HIT = 8  # "Exactly." is filler; a 30-word answer with one "you know" in it is not


def is_filler(sentence: str) -> bool:
    """Mostly backchannel and hedges: a filler word per FILLER_WORDS_PER_HIT words or more."""
    hits = filler_count(sentence)
    return hits > 0 and hits >= len(sentence.split()) // FILLER_WORDS_PER_HIT
