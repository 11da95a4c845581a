"""The words and marks naba's claim rules read (naba.claims): reporting verbs in their inflections,
complementizers, source adverbials, punctuation classes, and the rules' distances and scores.

Words are compared in a normal form (:func:`norm`: no diacritics or tatweel, one alef, final ى as
ي, presentation forms as their letters), so each list holds one spelling per word.
"""

from __future__ import annotations

import re
import unicodedata

from naba.text import PRESENTATION_FORMS

DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
WORD = "[\\w\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]+"
WORD_RE = re.compile(WORD)
# Invisible marks (LRM/RLM, ALM, ZWJ/ZWNJ/ZWSP, bidi embeddings/isolates, BOM, soft hyphen), as
# naba.text drops them: news text puts an RLM after a word or a period ("الضرائب.\u200f وذهب"), and
# it must neither split a phrase into other tokens nor stand at a span's edge.
INVISIBLE = "\u00ad\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
INVISIBLE_CHAR = re.compile(f"[{INVISIBLE}]")
# A word, or one punctuation character: ANERcorp separates punctuation by spaces, news text
# usually attaches it ("بيان: “خلال"), and both must give the same tokens.
TOKEN = re.compile(f"{WORD}|[^\\s\\w{INVISIBLE}]")
# Line and paragraph breaks (Unicode's mandatory breaks): scraped text ends its lines with a lone CR,
# or a form feed, NEL, U+2028 or U+2029 where others put "\n"; a claim or quote must stop at any of them.
LINE_BREAK = re.compile("[\n\r\x0b\x0c\x85\u2028\u2029]")


# Arabic presentation forms (the letter shapes and ligatures of PDF-extracted text, 'ﻗﺎﻝ', 'ﻻ') as the
# letters they stand for, as naba.text gives them to the model: keyed as written, no cue word matched
_LETTERS = str.maketrans(PRESENTATION_FORMS)


def norm(word: str) -> str:
    """Matching key: no diacritics or tatweel, one alef, final ى as ي (ANERcorp mixes spellings),
    presentation forms as their letters."""
    if max(word, default="") >= "\ufb50":  # a rare character: most words skip the table
        word = word.translate(_LETTERS)
    word = DIACRITICS.sub("", word)
    return word.translate(str.maketrans("أإآٱى", "ااااي"))


def verb_forms(past: str, present: str, participle: str | None) -> set[str]:
    """Inflections of a regular reporting verb, given normalized 3ms past, present stem, participle."""
    forms = {past + s for s in ("", "ت", "وا", "ا", "تا")}
    forms |= {p + present + s for p in "يتن" for s in ("", "ون", "ان")}
    if participle:
        forms |= {participle + s for s in ("ا", "ه", "ة", "ين", "ون", "ان")}
    return forms


# (past, present stem, participle), all normalized.
REGULAR = [
    ("قال", "قول", "قائل"),
    ("اكد", "ؤكد", "مؤكد"),
    ("اعلن", "علن", "معلن"),
    ("اضاف", "ضيف", "مضيف"),
    ("اوضح", "وضح", "موضح"),
    ("اشار", "شير", "مشير"),
    ("ذكر", "ذكر", None),
    ("افاد", "فيد", "مفيد"),
    ("حذر", "حذر", "محذر"),
    ("اعتبر", "عتبر", "معتبر"),
    ("صرح", "صرح", "مصرح"),
    ("زعم", "زعم", "زاعم"),
    ("شدد", "شدد", "مشدد"),
    ("كشف", "كشف", "كاشف"),
    ("ابلغ", "بلغ", None),
    ("رجح", "رجح", "مرجح"),
    ("توقع", "توقع", "متوقع"),
    ("لاحظ", "لاحظ", "ملاحظ"),
    ("اقر", "قر", "مقر"),
    ("اعترف", "عترف", "معترف"),
    ("اورد", "ورد", None),
    ("تابع", "تابع", "متابع"),
    ("اردف", "ردف", "مردف"),
    ("لفت", "لفت", "لافت"),
    ("نبه", "نبه", "منبه"),
    ("خاطب", "خاطب", "مخاطب"),
    ("نوه", "نوه", "منوه"),
    ("كتب", "كتب", None),
    ("ختم", "ختم", "مختتم"),
    ("كرر", "كرر", "مكرر"),
    ("طالب", "طالب", "مطالب"),
    ("طلب", "طلب", None),
    ("تصور", "تصور", None),
    ("اعتقد", "عتقد", "معتقد"),
    ("خلص", "خلص", None),
    ("استنتج", "ستنتج", "مستنتج"),
    ("اكد", "وكد", None),  # يوكد: the present of أكد written without its hamza seat
]
# Weak verbs (final ى) inflect irregularly: list them.
IRREGULAR = {
    "نفي", "نفت", "نفوا", "ينفي", "تنفي", "ينفون", "نافيا", "نافية",
    "راي", "رات", "راوا", "يري", "تري", "نري", "يرون",
    "ادعي", "ادعت", "ادعوا", "يدعي", "تدعي", "مدعيا",
    "روي", "روت", "يروي",
    "يتردد", "اظهر", "اظهرت", "اظهروا",  # "يتردد أن" (hearsay), "أظهرت محاضر الجلسة أن" (documents)
}
# Calls report with أن or a colon ("دعا إلى أن ...", GUIDELINES §6(a)); a quote after one is the thing
# called for, a noun phrase ("دعا إلى رفع «الحصار ...»"), and "كما دعا" is "he also called", no attribution.
CALLS = {"دعا", "دعت", "دعوا", "يدعو", "تدعو", "ندعو", "يدعون", "داعيا", "داعية"}
# Questions and replies report with a colon only ("وسأل أحد المتظاهرين: “إلى متى …؟”", "وردّ الوزير: …");
# after سأل, إن is "whether".
ASK = {"سال", "سالت", "يسال", "تسال", "تساءل", "تساءلت", "يتساءل", "تتساءل", "رد", "ردت"}
TRIGGERS = set().union(*(verb_forms(*v) for v in REGULAR)) | IRREGULAR | CALLS | ASK
# Nouns that report speech: "نقل عنه قوله إن", "وختم بالقول إن".
TRIGGERS |= {"قوله", "قولها", "قولهم", "قولهما", "بالقول"}
# Nouns of belief and estimate that take a complement: "أعربت عن اعتقادها بأن", "وسط تقديرات بأن".
TRIGGERS |= {n + p for n in ("اعتقاد", "ثقت", "قناعت", "امل") for p in ("ه", "ها", "هم")} | {"تقديرات", "توقعات", "انباء"}
TRIGGERS.add("ج")  # interview answers: "س : ... ؟ ج : {claim}"
# Describing and accusing verbs report a statement only with بأن ("وصف الاتفاق بأنه تاريخي"، "اتهمها
# بأنها خربت ..."); with a verbal noun they give a label or a charge ("وصفه بالتاريخي"، "اتهمه بالتخريب").
# With an object pronoun, since the بأن clause's subject is their object.
BI_ANNA_VERBS = {
    f + o
    for stem, present in (("وصف", "صف"), ("اتهم", "تهم"))
    for f in (verb_forms(stem, present, None) - {stem + "ا"}) | {"واصفا", "واصفة", "متهما", "متهمة"}
    for o in ("", "ه", "ها", "هم", "هما")
}
# Words that continue one speaker's report: after a comma they start a new claim.
PARTICIPLES = (
    "مضيف", "مشير", "مؤكد", "موضح", "لافت", "معتبر", "محذر", "مشدد", "منبه", "منوه", "نافي", "متابع",
    "مردف", "قائل",
)
CONTINUERS = {f for f in TRIGGERS if f.startswith(PARTICIPLES)}
# Circumstantial participles after a comma start the reporter's own material ("، داعيا إلى ...").
CONTINUERS |= {p + e for p in ("داعي", "رافض", "معرب", "مذكر", "منتقد", "مبدي", "مشيد", "مطالب") for e in ("ا", "ة")}
# Verbs that need an honorific subject to take unmarked direct speech ("وقال جلالته أريد ...").
SAY = {"قال", "قالت", "يقول", "تقول", "اضاف", "اضافت", "تابع", "تابعت", "اردف", "اردفت"}
SAYING = {"قائلا", "قائلة"}
PREPOSITIONS = {"في", "ل", "لل", "الي", "علي", "عن", "من", "مع", "امام", "خلال", "بعد", "قبل", "عبر", "ان"}
# A quote right after one of these is its object, a noun phrase, not speech ("أشار إلى “تراجع حاد”").
QUOTE_OBJECT = (PREPOSITIONS - {"ان"}) | {"ب", "وب", "لـ"}
# After a quote that opens a claim, these start the reporter's circumstances of the statement.
TIME_AFTER = {"بعد", "قبل", "عقب", "اثر", "منذ", "غداة", "عشية"}
HONORIFIC = {"جلالته", "جلالتها", "سموه", "سموها", "فخامته", "معاليه", "معاليها", "سيادته", "دولته", "سماحته"}

PRONOUNS = ("", "ه", "ها", "هم", "هما", "هن", "ني", "نا", "ك", "كم")
COMPLEMENTIZERS = {p + "ان" + s for p in ("", "ب") for s in PRONOUNS} | {"انه", "انها"}
COORDINATED = {"و" + c for c in COMPLEMENTIZERS}
# "أن" after these is not a reporting complementizer ("بعد أن", "يجب أن", "غير أن").
NOT_AFTER = {
    "بعد", "قبل", "منذ", "غير", "الا", "رغم", "برغم", "بالرغم", "ورغم", "يجب", "يمكن", "ينبغي",
    "لابد", "بد", "دون", "بدون", "حتي", "لو", "كما", "سبق", "المقرر", "المتوقع", "عسي", "لاجل", "اجل", "يمكنه", "يمكنها",
    "يريد", "تريد", "نريد", "اريد", "يريدون", "اراد", "ارادت", "ارادوا", "يحاول", "تحاول", "حاول",
    "يستطيع", "تستطيع", "استطاع",
}
# "يذكر أن ..." with no subject is the reporter's aside ("it is worth noting"), not a report.
# So are the passives يُعتقد أن / يُتوقع أن, which without diacritics look like "he believes".
IMPERSONAL = {"يذكر", "ويذكر", "يعتقد", "ويعتقد", "يتوقع", "ويتوقع"}
# The words of the reporter's "it is worth noting" formulas (يُذكر أن، يُشار إلى أن، تجدر الإشارة إلى أن، الجدير
# بالذكر أن): a clause that a source adverbial attributes starts after them ("ويُشار إلى أن X بحسب استطلاع").
# Not "من المتوقع أن" / "يُعتقد أن": with a source the expectation itself is what the source said.
BACKGROUND = {"يذكر", "يشار", "تجدر", "الجدير", "الاشارة", "بالذكر", "الي"}
# Source adverbials: "بحسب المرصد، X", "X، وفق ما أفاد المرصد" (with clitic و as well).
ADVERBIALS = {"بحسب", "حسب", "حسبما", "وفق", "وفقا", "نقلا"}
# The words after "على حد" that make it one too: "على حد قول المديرة", "على حد قوله", "على حد تعبيره".
ALA_HADD = {"قول", "تعبير"} | {w + p for w in ("قول", "تعبير") for p in ("ه", "ها", "هم")}
FA_INNA = {"ف" + c for c in COMPLEMENTIZERS if not c.startswith("ب")}  # "وحسب المصادر فإنه ..."
THAT = FA_INNA | {c for c in COMPLEMENTIZERS if not c.startswith("ب")}  # "، فإن X" / "، إن X"
# After "بحسب المرصد ،" a relative pronoun goes on describing the source ("، الذي يتخذ من لندن مقرا"):
# that comma does not end the adverbial, and no claim starts there.
RELATIVES = {"الذي", "التي", "الذين", "اللذان", "اللتان", "اللذين", "اللتين", "اللواتي", "اللاتي", "اللائي"}
# Reporter's comments that end the reported content ("، لتصبح بذلك المدينة الثانية ...").
COMMENTS = {"لتصبح", "ليصبح", "لتكون", "ليكون", "دون", "بدون"}
SENT_END = {".", "؟", "?", "!"}
SEPARATORS = {",", "،", "؛", ";", "–", "-"}
BUTS = {"لكن", "لكنه", "لكنها", "لكنهم", "ولكن", "ولكنه", "ولكنها", "كما", "بينما", "فيما", "وفيما"}
OPEN_CURLY, CLOSE_CURLY = "“", "”"
SYMMETRIC = {'"', "«", "»"}  # guillemets circulate in both directions («…» and »…«)

WINDOW = 16  # tokens between a verb and its complementizer or colon ("وأكد جلالته خلال ... انه")
QUOTE_NEAR = 6  # tokens between a verb and a quote it introduces without a colon
MIN_QUOTE = 3  # a shorter quote without a colon is usually a name ("طالبان", "البنتاغون")
FRONTED = 5  # tokens of a fronted phrase before the clause ("وفي وقت سابق اليوم، ...")
SCORES = {"that": 0.8, "colon": 0.85, "quote": 0.7, "honorific": 0.6, "post": 0.6, "adverbial": 0.5}


def edge(ch: str) -> bool:
    """Whether a span may not start or end on ``ch``: space, an invisible mark or punctuation (spans are tight)."""
    return ch.isspace() or bool(INVISIBLE_CHAR.match(ch)) or (unicodedata.category(ch).startswith("P") and ch not in "%٪")
