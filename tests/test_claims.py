"""The rule-based claim finder on hand-made Arabic cases, plus invariants on arbitrary text."""

from __future__ import annotations

import pytest
from conftest import best_seconds
from hypothesis import given, settings
from hypothesis import strategies as st

from naba.claims import RuleTagger, find_claims
from naba.errors import DataError

# (case id, text, expected claim texts in order)
CASES = [
    ("complementizer-inna", "وقال الوزير إن الحكومة ستخفض الضرائب .", ["الحكومة ستخفض الضرائب"]),
    ("complementizer-pronoun", "وأكد الرئيس انه سيزور البلاد قريبا .", ["سيزور البلاد قريبا"]),
    ("complementizer-bi-anna", "وصرح المتحدث بأن المفاوضات انتهت .", ["المفاوضات انتهت"]),
    ("long-subject", "وأكد الوزير خلال الاجتماع الذي ضمه وممثلي النقابات المحلية انه يتفهم المطالب .", ["يتفهم المطالب"]),
    ("clitic-fa", "فقال إنه متفائل بالنتائج .", ["متفائل بالنتائج"]),
    ("present-tense", "ويرى الخبراء أن الأسعار سترتفع .", ["الأسعار سترتفع"]),
    ("diacritics", "وقالَ إنّ الأمرَ محسومٌ .", ["الأمرَ محسومٌ"]),
    ("denial", "ونفى المتحدث أن تكون القوات قد انسحبت .", ["تكون القوات قد انسحبت"]),
    ("warning", "وحذر الوزير من أن الأزمة ستتفاقم .", ["الأزمة ستتفاقم"]),
    ("preposition-ila", "وأشار التقرير إلى أن الاقتصاد تحسن .", ["الاقتصاد تحسن"]),
    ("noun-qawlahu", "ونقل عن الوزير قوله إن الاتفاق جاهز .", ["الاتفاق جاهز"]),
    ("colon-attached-curly", "وأعلن الجيش في بيان: “قواتنا دخلت المدينة”.", ["قواتنا دخلت المدينة"]),
    ("colon-no-quote", "وقال الهاجري : المراحل الأوروبية كانت صعبة جدا .", ["المراحل الأوروبية كانت صعبة جدا"]),
    ("guillemets", "وقال الوزير « لن نتراجع عن قرارنا » .", ["لن نتراجع عن قرارنا"]),
    ("guillemets-reversed", "وأضاف أن » الأمن واقع قائم « .", ["الأمن واقع قائم"]),
    ("straight-quotes", 'وقال سامر عقب اجتماعه " ناقشنا خطة التنمية الريفية وتمويلها " .', ["ناقشنا خطة التنمية الريفية وتمويلها"]),
    (
        "quote-interrupted",
        "وقال: “الوضع صعب جدا”، مضيفا: “لكننا سنصمد حتى النهاية”.",
        ["الوضع صعب جدا", "لكننا سنصمد حتى النهاية"],
    ),
    (
        "quote-across-period",
        "وقالت السفارة: “الوضع يتدهور. غادروا البلاد فورا”.",
        ["الوضع يتدهور. غادروا البلاد فورا"],
    ),
    ("question-mark-outside", 'وقال الرئيس : " متى ستنتهي هذه الحرب ؟ " .', ["متى ستنتهي هذه الحرب"]),
    (
        "partial-quotes-at-edges-outside",
        "وأورد المرصد أن “هيئة تحرير الشام” والفصائل معها “دخلت الى مدينة حماة من جهات عدة”.",
        ["هيئة تحرير الشام” والفصائل معها “دخلت الى مدينة حماة من جهات عدة"],
    ),
    ("inna-inside-quote", 'الذي يقول " إن هجوما على دولة هو هجوم على الجميع " .', ["هجوما على دولة هو هجوم على الجميع"]),
    ("quote-then-gloss", 'وقال ان " تبادل الأسرى يجري بين الجيوش وحدها " في اشارة الى الميليشيا .', ["تبادل الأسرى يجري بين الجيوش وحدها"]),
    ("attributed-after", '" سنواصل القتال حتى النهاية " ، قال القائد .', ["سنواصل القتال حتى النهاية"]),
    (
        "coordinated",
        "وقال إن الحرب انتهت وأن الجنود سيعودون قريبا .",
        ["الحرب انتهت", "الجنود سيعودون قريبا"],
    ),
    (
        "coordinated-comma",
        "وأكد أن الحدود مغلقة ، وأن المعابر ستفتح غدا .",
        ["الحدود مغلقة", "المعابر ستفتح غدا"],
    ),
    ("coordination-inside-quote-is-one", 'وأضاف " كنا نأمل ان تبقى الأسعار مستقرة وان نحمي الأجور " .', ["كنا نأمل ان تبقى الأسعار مستقرة وان نحمي الأجور"]),
    (
        "participle-continues",
        "وذكر أن الوضع هادئ , مشيرا إلى أن الحدود مغلقة .",
        ["الوضع هادئ", "الحدود مغلقة"],
    ),
    (
        "participle-without-comma",
        "وذكر أن الوضع هادئ مشيرا إلى أن الحدود مغلقة .",
        ["الوضع هادئ", "الحدود مغلقة"],
    ),
    (
        "but-she-said",
        "وقالت الصحيفة إن الجيش قلل من قدرة العدو , لكنها أشارت إلى أن التهديد ارتفع .",
        ["الجيش قلل من قدرة العدو", "التهديد ارتفع"],
    ),
    (
        "two-speakers",
        "قال الوزير إن الاتفاق قريب . وقالت المعارضة إن المفاوضات متعثرة .",
        ["الاتفاق قريب", "المفاوضات متعثرة"],
    ),
    (
        "wa-verb-continues",
        "وقال إن اليورو مقوم بأقل من قيمته وشدد على أن وجود يورو قوي مفيد .",
        ["اليورو مقوم بأقل من قيمته", "وجود يورو قوي مفيد"],
    ),
    ("adverbial-fronted", "وبحسب المرصد، تمكنت الفصائل من دخول المدينة.", ["تمكنت الفصائل من دخول المدينة"]),
    (
        "adverbial-postposed",
        "وفي وقت سابق اليوم، دخلت الفصائل المدينة، وفق ما أفاد المرصد.",
        ["دخلت الفصائل المدينة"],
    ),
    ("adverbial-fa-inna", "وحسب مصادر بوزارة الداخلية فإنه سلم نحو 200 عنصر أسلحتهم .", ["سلم نحو 200 عنصر أسلحتهم"]),
    ("postposed-attribution-ends-claim", "وقال إن الطريق آمن، بحسب البيان.", ["الطريق آمن"]),
    (
        "reporter-comment-ends-claim",
        "وأورد المرصد أن الفصائل دخلت المدينة، لتصبح بذلك المدينة الثانية .",
        ["الفصائل دخلت المدينة"],
    ),
    ("comparative-kama-is-not-attribution", "وقال إن الوضع كما كان .", ["الوضع كما كان"]),
    ("participle-qailan-direct-speech", "وأضاف قائلا قلما كان المشهد واضحا بهذا القدر .", ["قلما كان المشهد واضحا بهذا القدر"]),
    ("qailan-colon-inna", "ويشرح المزارع قائلاً : إن آباءنا زرعوا هذه الأرض .", ["آباءنا زرعوا هذه الأرض"]),
    ("quote-continued-from-previous-sentence", 'الهدنة ليست هزيمة وانما خطوة ضرورية " .', ["الهدنة ليست هزيمة وانما خطوة ضرورية"]),
    ("circumstantial-participle-ends-claim", "وقال إن البرلمان قد يقر القانون ، داعيا إلى تسريع الإجراءات .", ["البرلمان قد يقر القانون"]),
    ("min-dun-ends-claim", "وأعلن أن الوفد سيصل العاصمة ، من دون ذكر موعد محدد .", ["الوفد سيصل العاصمة"]),
    ("belief-noun", "وأعربت عن اعتقادها بأن الحكومة لا تنوي رفع الضرائب .", ["الحكومة لا تنوي رفع الضرائب"]),
    (
        "request-coordinated",
        "وطلب من المجلس أن يراجع قراره ، وأن يمنح المزارعين مهلة إضافية .",
        ["يراجع قراره", "يمنح المزارعين مهلة إضافية"],
    ),
    ("hope-noun", "وأعرب عن أمله في أن تنتهي الأزمة قريبا .", ["تنتهي الأزمة قريبا"]),
    ("interview-answer", "س : كيف تقيم مسيرتك ؟ ج : مسيرتي جيدة .", ["مسيرتي جيدة"]),
    ("post-quote-inna-outside", "“إن الزيارة كانت مثمرة”، قالت الوزيرة.", ["الزيارة كانت مثمرة"]),
    (
        "unclosed-quote-coordinated",
        "وقال إن “ الاقتصاد تحسن ، وأن البطالة تراجعت .",
        ["الاقتصاد تحسن", "البطالة تراجعت"],
    ),
    ("no-claim-passive-belief", "ويعتقد أن الحرب ستطول .", []),
    ("nested-stays-inside", "وقال المصدر إن الوزير أكد أن الاتفاق جاهز .", ["الوزير أكد أن الاتفاق جاهز"]),
    ("honorific-direct-speech", "وقال جلالته أريد ان أعرف آراءكم بصراحة .", ["أريد ان أعرف آراءكم بصراحة"]),
    ("modal-an-is-not-complementizer", "وقال إنه يجب أن نعمل معا .", ["يجب أن نعمل معا"]),
    ("no-claim-narration", "ذهب الرئيس إلى المدينة صباح اليوم .", []),
    ("no-claim-ghayr-anna", "غير أن الخطة لم تكتمل بعد .", []),
    ("no-claim-unattributed-anna", "والواقع أن الحرب طالت .", []),
    ("no-claim-quoted-name", 'سيطرت حركة " طالبان " على المدينة .', []),
    ("no-claim-quoted-title", 'وقال المتحدث باسم " الجبهة الوطنية للعدالة والتنمية " لوكالة الأنباء .', []),
    ("no-claim-impersonal-yudhkar", "يذكر أن الاجتماع عقد أمس .", []),
    ("no-claim-verb-without-complement", "وأعلن الرئيس حالة الطوارئ .", []),
    ("decimal-is-not-sentence-end", "وقال إن النمو بلغ 3.5 في المئة .", ["النمو بلغ 3.5 في المئة"]),
    ("claim-to-line-end", "وقال إن الوضع هادئ\nوذهب الوفد إلى المطار", ["الوضع هادئ"]),
    # invisible marks (RLM, isolates) are neither a span's edge nor a token between words
    ("rlm-after-claim-outside", "وقال الوزير إن الحكومة ستخفض الضرائب\u200f .", ["الحكومة ستخفض الضرائب"]),
    ("rlm-before-claim-outside", "وقال الوزير إن \u200fالحكومة ستخفض الضرائب .", ["الحكومة ستخفض الضرائب"]),
    ("isolates-outside", "وقال الوزير إن \u2067الحكومة ستخفض الضرائب\u2069 .", ["الحكومة ستخفض الضرائب"]),
    ("lrm-after-final-period", "وقال الوزير إن الحكومة ستخفض الضرائب.\u200e", ["الحكومة ستخفض الضرائب"]),
    (
        "rlm-after-period-ends-sentence",
        "وقال الوزير إن الحكومة ستخفض الضرائب.\u200f وذهب الوفد إلى المطار.",
        ["الحكومة ستخفض الضرائب"],
    ),
    ("rlm-after-comma-ends-claim", "وقال إن الطريق آمن،\u200f بحسب البيان.", ["الطريق آمن"]),
    # after a colon too, a quote's first إن is the complementizer (GUIDELINES §7)
    ("colon-quote-inna-outside", "أضاف القول: “إن الزيارة كانت مثمرة”.", ["الزيارة كانت مثمرة"]),
    ("colon-guillemet-inna-outside", "وقالت: «إن الزيارة كانت مثمرة»", ["الزيارة كانت مثمرة"]),
    ("colon-unclosed-quote-innahu-outside", "وقال الوزير : \" إنه سيعود غدا", ["سيعود غدا"]),
    ("colon-quote-later-inna-inside", "وقال: «الزيارة مثمرة، وإن النتائج جيدة».", ["الزيارة مثمرة، وإن النتائج جيدة"]),
    # حسبما is one of GUIDELINES §6(d)'s source adverbials: postposed it ends the claim, fronted it attributes one
    ("postposed-hasabama-ends-claim", "وقال إن الطريق آمن، حسبما أفاد البيان.", ["الطريق آمن"]),
    ("adverbial-fronted-hasabama", "وحسبما أفاد المرصد، دخلت الفصائل المدينة.", ["دخلت الفصائل المدينة"]),
    # a quoted first complement does not make the second part of it (GUIDELINES §7: أن X وأن Y)
    ("coordinated-after-quoted-first", "وأكد أن «الطريق آمن» وأن الحافلات ستعود.", ["الطريق آمن", "الحافلات ستعود"]),
    (
        "coordinated-after-quoted-first-curly",
        "وقال إن “الحرب انتهت” ، وأن الجنود سيعودون قريبا .",
        ["الحرب انتهت", "الجنود سيعودون قريبا"],
    ),
    ("wa-anna-inside-closed-quote-is-one", "وقال إن «الحرب انتهت وأن الجنود عائدون» .", ["الحرب انتهت وأن الجنود عائدون"]),
    # a line opening with the close of the line above's quote: that quote ends there, and pairs with nothing below
    (
        "stray-closer-ends-quote-of-line-above",
        'وقال الوزير " لن نتراجع عن قرارنا\n" وأضاف " الأمر محسوم تماما ولا رجعة فيه " .',
        ["لن نتراجع عن قرارنا", "الأمر محسوم تماما ولا رجعة فيه"],
    ),
    (
        "stray-closer-below-open-guillemet",
        'وقال الوزير « لن نتراجع عن قرارنا\n" وأضاف « الأمر محسوم تماما ولا رجعة فيه » .',
        ["لن نتراجع عن قرارنا", "الأمر محسوم تماما ولا رجعة فيه"],
    ),
    # a postposed adverbial after a clause of up to five tokens: its comma was read as the end of a
    # fronted phrase ("وفي وقت سابق اليوم، ..."), the clause taken to start after it, and nothing found
    ("postposed-short-clause-bihasab", "دخلت القوات المدينة ، بحسب المرصد .", ["دخلت القوات المدينة"]),
    ("postposed-short-clause-wifq-ma-afad", "قتل عشرة مدنيين في القصف ، وفق ما أفاد المرصد .", ["قتل عشرة مدنيين في القصف"]),
    ("postposed-short-clause-kama-afad", "دخلت القوات المدينة، كما أفاد المرصد.", ["دخلت القوات المدينة"]),
    ("postposed-short-clause-to-line-end", "قتل عشرة مدنيين، حسبما أفاد المرصد\nوذهب الوفد", ["قتل عشرة مدنيين"]),
    ("postposed-short-clause-after-fronted-phrase", "وفي وقت سابق اليوم، دخلت القوات، بحسب المرصد.", ["دخلت القوات"]),
    # a fronted phrase before a fronted adverbial stays outside, with or without a clause after it
    ("fronted-phrase-then-fronted-adverbial", "وفي وقت سابق ، وبحسب المرصد ، دخلت القوات المدينة .", ["دخلت القوات المدينة"]),
    ("fronted-phrase-then-bare-adverbial", "وفي وقت سابق ، بحسب المرصد ، دخلت القوات المدينة .", ["دخلت القوات المدينة"]),
    ("no-claim-fronted-phrase-before-wa-adverbial", "وفي وقت سابق ، وبحسب المرصد .", []),
    ("fronted-adverbial-keeps-its-claim-before-postposed", "وبحسب المرصد فإن القوات دخلت ، وفق ما أفاد مصدر .", ["القوات دخلت"]),
    ("postposed-short-quote", "« القوات دخلت المدينة » ، بحسب المرصد .", ["القوات دخلت المدينة"]),
    # a fronted adverbial stays outside the claim also when a postposed one follows (GUIDELINES §6(d)):
    # the clause before the postposed one starts where the fronted one's claim does
    (
        "fronted-fa-inna-then-postposed",
        "وبحسب المرصد فإن القوات دخلت المدينة الشمالية صباح اليوم ، وفق ما أفاد مصدر .",
        ["القوات دخلت المدينة الشمالية صباح اليوم"],
    ),
    (
        "fronted-phrase-fronted-fa-inna-then-postposed",
        "وفي وقت سابق ، وبحسب المرصد فإن القوات دخلت المدينة الشمالية صباح اليوم ، وفق ما أفاد مصدر .",
        ["القوات دخلت المدينة الشمالية صباح اليوم"],
    ),
    (
        "fronted-fa-innahu-then-postposed",
        "وحسب مصادر بوزارة الداخلية فإنه سلم نحو 200 عنصر أسلحتهم في المدينة ، بحسب البيان .",
        ["سلم نحو 200 عنصر أسلحتهم في المدينة"],
    ),
    # a relative clause after the source's comma describes the source (GUIDELINES §6(d)): no claim starts
    # there, and a postposed adverbial is not read as a fronted one ("وفي وقت سابق ، بحسب المرصد ، X")
    ("postposed-adverbial-then-relative", "دخلت القوات المدينة ، بحسب المرصد ، الذي يتخذ من لندن مقرا .", ["دخلت القوات المدينة"]),
    ("postposed-adverbial-then-relative-allati", "قتل عشرة مدنيين ، حسب الوكالة ، التي نقلت عن شهود .", ["قتل عشرة مدنيين"]),
    ("claim-then-adverbial-then-relative", "وقال إن الطريق آمن ، بحسب البيان ، الذي صدر اليوم .", ["الطريق آمن"]),
    ("fronted-adverbial-relative-then-clause", "بحسب المرصد ، الذي يتخذ من لندن مقرا ، دخلت القوات المدينة .", ["دخلت القوات المدينة"]),
    # nor does such a comma end a fronted phrase before a postposed adverbial
    (
        "fronted-adverbial-relative-then-postposed",
        "وبحسب المرصد ، الذي يتخذ من لندن مقرا ، دخلت القوات المدينة الشمالية صباح اليوم ، وفق ما أفاد مصدر .",
        ["دخلت القوات المدينة الشمالية صباح اليوم"],
    ),
    (
        "relative-in-clause-before-postposed",
        "دخلت القوات ، التي وصلت أمس ، المدينة الشمالية ، بحسب المرصد .",
        ["دخلت القوات ، التي وصلت أمس ، المدينة الشمالية"],
    ),
    # GUIDELINES §9: "وبحسب البيان، فإن {CLAIM …}" — the complementizer stays outside after the comma too
    ("adverbial-comma-fa-inna", "وبحسب البيان، فإن الطريق آمن.", ["الطريق آمن"]),
    ("adverbial-comma-inna", "وبحسب البيان ، إن الطريق آمن .", ["الطريق آمن"]),
    ("adverbial-comma-fa-innahu", "وحسب المصادر، فإنه سيعود غدا.", ["سيعود غدا"]),
    # GUIDELINES §6/§9: describing and accusing verbs report a statement with بأن, not with a noun
    ("describe-bi-anna", "وصف الاتفاق بأنه تاريخي.", ["تاريخي"]),
    ("describe-bi-anna-quoted", "وصف التقارير بأنها «مفبركة».", ["مفبركة"]),
    ("describe-passive", "وُصف القرار بأنه متسرع.", ["متسرع"]),
    ("accuse-object-pronoun", "اتهمها بأنها خربت الاقتصاد.", ["خربت الاقتصاد"]),
    ("accuse-bi-anna", "واتهم الوزير المعارضة بأنها خربت الاقتصاد .", ["خربت الاقتصاد"]),
    ("describe-participle", "ونفى الوزير الاتهامات ، واصفا المعارضة بأنها تكذب .", ["تكذب"]),
    (
        "describe-quote-then-reporter",
        "ضربت التفجيرات المدينة فيما وصفت بأنها “أسوأ هجمات إرهابية” في البلاد منذ عقد .",
        ["أسوأ هجمات إرهابية"],
    ),
    ("describe-label-noun", "وصف الاتفاق بالتاريخي.", []),
    ("accuse-verbal-noun", "اتهم الوزير المعارضة بتخريب الاقتصاد.", []),
    ("describe-plain-anna-not", "وصف الوزير الرحلة بعد أن انتهت .", []),
    # GUIDELINES §6: documents are sources — "جاء في التقرير أن {CLAIM …}"
    ("document-jaa-fi", "جاء في التقرير أن الأسعار ارتفعت.", ["الأسعار ارتفعت"]),
    ("document-jaa-fi-colon", "وجاء في البيان : المعبر سيفتح غدا .", ["المعبر سيفتح غدا"]),
    ("jaa-not-a-document", "جاء الوزير إلى المدينة بعد أن انتهت الحرب .", []),
    ("document-fa-jaa-fi", "فجاء في التقرير أن الأسعار ارتفعت.", ["الأسعار ارتفعت"]),  # with ف, as the verbs
    # GUIDELINES §6: a background formula reports no one, but a source adverbial makes (d) apply to what
    # follows the formula — the formula itself stays outside, with or without a comma
    ("formula-then-adverbial", "ويُشار إلى أن الأسعار ارتفعت بحسب استطلاع للرأي.", ["الأسعار ارتفعت"]),
    ("formula-then-comma-adverbial", "ويذكر أن الأسعار ارتفعت ، بحسب استطلاع .", ["الأسعار ارتفعت"]),
    ("formula-long-then-comma-adverbial", "وتجدر الإشارة إلى أن الأسعار ارتفعت، وفق ما أفاد البنك.", ["الأسعار ارتفعت"]),
    ("formula-alone", "ويُشار إلى أن الأسعار ارتفعت .", []),
    # GUIDELINES §6: a pull-quote set apart with its speaker is a claim; a slogan with no speaker is not
    ("pull-quote", "“لن نتراجع عن القرار”، سامي الخطيب", ["لن نتراجع عن القرار"]),
    ("pull-quote-then-text", "«لن نقبل بأي تأجيل» - سامي الخطيب.\nوغادر الوزير القاعة .", ["لن نقبل بأي تأجيل"]),
    ("quote-then-narration-not-pull-quote", "“لن نتراجع عن القرار”، سامي الخطيب وزير النقل في الحكومة غادر القاعة", []),
    ("slogan-not-pull-quote", "ساروا تحت شعار “الأرض لنا دائما”، سامي الخطيب", []),
    # a describing/accusing verb or جاء في with the clitic و reports anew, as "، وأكد أن": the claim before ends
    ("claim-then-describe", "قال الوزير إن الأسعار ارتفعت ، ووصف الاتفاق بأنه تاريخي .", ["الأسعار ارتفعت", "تاريخي"]),
    ("claim-then-describe-no-comma", "قال الوزير إن الأسعار ارتفعت ووصف الاتفاق بأنه تاريخي .", ["الأسعار ارتفعت", "تاريخي"]),
    (
        "claim-then-accuse",
        "قال الوزير إن الأسعار ارتفعت ، واتهم المعارضة بأنها خربت الاقتصاد .",
        ["الأسعار ارتفعت", "خربت الاقتصاد"],
    ),
    ("describe-then-describe", "وصف الوزير الاتفاق بأنه تاريخي ، ووصف الخطة بأنها طموحة .", ["تاريخي", "طموحة"]),
    (
        "claim-then-document",
        "قال الوزير إن الأسعار ارتفعت ، وجاء في التقرير أن البطالة تراجعت .",
        ["الأسعار ارتفعت", "البطالة تراجعت"],
    ),
    (
        "claim-then-document-fa",
        "قال الوزير إن الأسعار ارتفعت ، فجاء في التقرير أن البطالة تراجعت .",
        ["الأسعار ارتفعت", "البطالة تراجعت"],
    ),
    # a short clause before a postposed adverbial followed by a new report: the report is no fronted clause
    (
        "short-clause-adverbial-then-report",
        "دخلت القوات المدينة ، بحسب المرصد ، وأكد الوزير أن البطالة تراجعت .",
        ["دخلت القوات المدينة", "البطالة تراجعت"],
    ),
    (
        "formula-adverbial-then-report",
        "ويذكر أن الأسعار ارتفعت ، بحسب استطلاع ، وأكد الوزير أن البطالة تراجعت .",
        ["الأسعار ارتفعت", "البطالة تراجعت"],
    ),
    ("fronted-adverbial-then-report", "وبحسب المرصد ، وأكد الوزير أن البطالة تراجعت .", ["البطالة تراجعت"]),
    ("claim-then-describe-label-noun", "قال الوزير إن الأسعار ارتفعت ووصف الاتفاق بالتاريخي .", ["الأسعار ارتفعت ووصف الاتفاق بالتاريخي"]),
    # a quote interrupted by its speaker is two claims, however long the speaker's name (GUIDELINES §7)
    (
        "quote-verb-quote",
        "“المشروع سيوفر عشرة آلاف وظيفة”، قال فيصل القحطاني، “ومعظمها لشباب المنطقة”.",
        ["المشروع سيوفر عشرة آلاف وظيفة", "ومعظمها لشباب المنطقة"],
    ),
    (
        "quote-verb-long-name-quote",
        "«المخيم يستقبل اليوم ضعف طاقته»، قالت هالة يوسف من المفوضية السامية للأمم المتحدة لشؤون اللاجئين،"
        " «ونحتاج إلى خيام إضافية قبل الشتاء».",
        ["المخيم يستقبل اليوم ضعف طاقته", "ونحتاج إلى خيام إضافية قبل الشتاء"],
    ),
    # another report after "، فيما" ends the claim before it (GUIDELINES §7: a second reporting phrase)
    (
        "fima-second-report",
        "ذكرت صحيفة الغد أن الحكومة تدرس رفع الأجور، فيما نفت وزارة المالية أن يكون القرار قد اتُّخذ.",
        ["الحكومة تدرس رفع الأجور", "يكون القرار قد اتُّخذ"],
    ),
    (
        "fima-describe-bi-anna",
        "وقالت الشركة إنها خفضت إنتاجها ، فيما وصفته الوزارة بأنه تخفيض موسمي .",
        ["خفضت إنتاجها", "تخفيض موسمي"],
    ),
    # دعا reports with أن or a colon; the quote after it is what is called for, "كما دعا" attributes nothing
    ("call-anna", "ودعا الوزير إلى أن تستقيل الحكومة.", ["تستقيل الحكومة"]),
    ("no-claim-call-quoted-np", "ودعا الأمين العام إسرائيل الى رفع « الحصار البحري المستمر » .", []),
    ("no-claim-kama-daa", "كما دعا المجلس إلى التدخل السريع , مستنكرا قتل المدنيين .", []),
    ("statement-jaa-fihi", "وأصدرت الوزارة بيانا جاء فيه أن الطريق آمن.", ["الطريق آمن"]),
    # على حد قول is a source adverbial (GUIDELINES §6(d)); على حد سواء ("alike") is not
    ("ala-hadd-qawlihi-ends-claim", "وقال إن الطريق آمن، على حد تعبيره.", ["الطريق آمن"]),
    ("no-claim-ala-hadd-sawa", "دخلت القوات المدينة، على حد سواء.", []),
    # a quote governed by a preposition is a noun phrase (GUIDELINES §6)
    ("no-claim-quote-after-min", "وحذر من “انهيار شامل للاقتصاد الوطني”.", []),
    # the dateline is never part of a claim (GUIDELINES §8), however long the agency's name
    (
        "dateline-outside-postposed",
        "برلين (د ب أ) - تعتزم ألمانيا زيادة مساعداتها، نقلا عن مصادر حكومية.",
        ["تعتزم ألمانيا زيادة مساعداتها"],
    ),
    # a quote opening the claim and followed by a time word: the rest dates the saying (GUIDELINES §9)
    ("quote-then-time", "وقال إن “لا ثأر” بعد دخول الفصائل المدينة.", ["لا ثأر"]),
    # questions and replies report with a colon only (GUIDELINES §9: the question mark stays outside)
    ("question-colon", "وسأل أحد المتظاهرين في الساحة: “إلى متى ننتظر الكهرباء؟”", ["إلى متى ننتظر الكهرباء"]),
    ("reply-colon-after-claim", "وقال: الأجور لا تكفي. وردّ الوزير: الزيادة قادمة.", ["الأجور لا تكفي", "الزيادة قادمة"]),
    ("no-claim-asked-whether", "وسأل الوزير إن كان الطريق آمنا.", []),
    ("reply-noun-is-no-nearer-verb", "وقال الوزير في رد على سؤال إن الطريق آمن.", ["الطريق آمن"]),
    # Arabic presentation forms (PDF-extracted text; 'ﻻ' a lam-alef ligature): read as their letters, as
    # naba.text gives them to the model; the rules found no cue in them
    ("presentation-forms", "ﻭﺃﻙﺩ ﺍﻝﻭﺯﻱﺭ ﺃﻥ ﺍﻻﺕﻑﺍﻕ ﺝﺍﻩﺯ .", ["ﺍﻻﺕﻑﺍﻕ ﺝﺍﻩﺯ"]),
    ("presentation-form-verb", "ﻭﻕﺍﻝ الوزير إن الاقتصاد بخير .", ["الاقتصاد بخير"]),
    ("presentation-form-complementizer", "وقال الوزير ﺇﻥ الاقتصاد بخير .", ["الاقتصاد بخير"]),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_find_claims(text: str, expected: list[str]) -> None:
    claims = find_claims(text)
    assert [c["text"] for c in claims] == expected
    for claim in claims:
        assert text[claim["start"] : claim["end"]] == claim["text"]
        assert claim["label"] == "CLAIM" and claim["layer"] == "claim"
        assert 0.0 < claim["score"] <= 1.0


# Scraped text breaks its lines with a lone CR, a form feed, NEL, U+2028 or U+2029 as well as "\n": a
# claim, and a quote left open, stop at each as at "\n" (they ran on into the next paragraph)
@pytest.mark.parametrize(
    "brk", ["\n", "\r\n", "\r", "\x0b", "\x0c", "\x85", "\u2028", "\u2029"],
    ids=["lf", "crlf", "cr", "vt", "ff", "nel", "ls", "ps"],
)
@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("وقال إن الوضع هادئ{brk}وذهب الوفد إلى المطار", ["الوضع هادئ"]),
        ("وقال الوزير: « لن نتراجع{brk}وذهب الوفد إلى المطار", ["لن نتراجع"]),
    ],
    ids=["complement", "open-quote"],
)
def test_a_claim_stops_at_any_line_break(brk: str, template: str, expected: list[str]) -> None:
    assert [c["text"] for c in find_claims(template.format(brk=brk))] == expected


@pytest.mark.parametrize(
    ("prefix", "sentence"),
    [
        ("", "وقال إن الاتفاق جاهز ."),
        ("عنوان الخبر\n", "وقال إن الاتفاق جاهز ."),
        ("ذهب الوفد إلى المطار . ", "وقال إن الاتفاق جاهز ."),
    ],
)
def test_offsets_are_into_the_original_text(prefix: str, sentence: str) -> None:
    text = prefix + sentence
    [claim] = find_claims(text)
    assert claim["start"] == len(prefix) + sentence.index("الاتفاق")
    assert text[claim["start"] : claim["end"]] == "الاتفاق جاهز"


def test_rule_tagger_mirrors_a_tagger_call() -> None:
    texts = ["وقال إن الاتفاق جاهز .", "ذهب الرئيس إلى المدينة ."]
    tagger = RuleTagger()
    assert tagger(texts[0]) == find_claims(texts[0])
    assert tagger(texts, batch_size=8) == [find_claims(t) for t in texts]
    assert tagger([]) == []
    with pytest.raises(DataError, match="text 1: a text must be a str"):
        tagger(["نص", 3])  # type: ignore[list-item]


@pytest.mark.parametrize("texts", [b"\xd9\x82\xd8\xa7\xd9\x84", bytearray(b"x"), {"text": "وقال إن الاتفاق جاهز ."}])
def test_rule_tagger_refuses_what_iterates_into_other_things(texts: object) -> None:
    # bytes iterate into ints ("text 0: got int"), a dict into its keys, which were tagged quietly
    with pytest.raises(TypeError, match="texts must be a str or an iterable of str"):
        RuleTagger()(texts)  # type: ignore[arg-type]


def test_a_long_paragraph_of_unclosed_quotes_takes_no_longer_than_closed_ones() -> None:
    # written “…“, every mark opens a quote that never closes; each one scanned on to the line's end:
    # 1,000 such sentences on one line took 1.8 s, with closing marks 0.15 s
    # the best of three runs each: on a loaded machine one run of the 0.08 s side took 0.11 s and more
    def seconds(closer: str) -> float:
        text = " ".join([f"وقال الوزير : “ الوضع صعب جدا في المدينة {closer} ."] * 1000)
        assert len(find_claims(text)) == 1000
        return best_seconds(lambda: find_claims(text))

    assert seconds("“") < 3 * seconds("”") + 0.1


# Inputs of the differential check that made find_claims linear (old and new code agreed on
# thousands of such texts); (start, end, text, score) pinned so that a faster walk cannot drift.
PINNED = [
    ("wa-before-unclosed-quote-end", "وقال “ أكد أن الوضع صعب و\nأن الحل قريب .", [(7, 25, "أكد أن الوضع صعب و", 0.7)]),
    ("wa-inside-closed-quote", "قال « أكد أن الوضع صعب و » أن الحل قريب .", [(13, 24, "الوضع صعب و", 0.8)]),
    ("crossing-quotes", "قال « أكد أن “ الوضع » صعب ” .", [(15, 20, "الوضع", 0.8)]),
    (
        "coordinated-chain",
        "أكد أن الوضع صعب وأن الحل قريب و أن الحرب انتهت .",
        [(7, 16, "الوضع صعب", 0.8), (21, 30, "الحل قريب", 0.8), (36, 47, "الحرب انتهت", 0.8)],
    ),
    ("nested-report", "قال إن الوزير أكد أن الوضع صعب .", [(7, 30, "الوزير أكد أن الوضع صعب", 0.8)]),
    (
        "diacritics-tatweel-bidi",
        "وقـــال الوزيرُ إنّ الوضعَ صعبٌ\u200f. وأضاف أنه \u2067متفائل\u2069 .",
        [(20, 31, "الوضعَ صعبٌ", 0.8), (45, 51, "متفائل", 0.8)],
    ),
    (
        "post-quote-and-adverbial",
        "« الوضع صعب جدا في المدينة » ، قال الوزير . دخلت القوات المدينة الشمالية صباح اليوم الأحد ، بحسب المرصد .",
        [(2, 26, "الوضع صعب جدا في المدينة", 0.6), (44, 89, "دخلت القوات المدينة الشمالية صباح اليوم الأحد", 0.5)],
    ),
    (
        "fronted-adverbial",
        "ذهب الوفد . وفي وقت سابق ، وبحسب المرصد ، دخلت القوات المدينة ، مضيفا أن الوضع هادئ .",
        [(42, 61, "دخلت القوات المدينة", 0.5), (73, 83, "الوضع هادئ", 0.8)],
    ),
    ("trailing-marks", "قال إن قال إن الوضع ، ، - ! ", [(7, 19, "قال إن الوضع", 0.8)]),
    (
        "quote-read-whole",
        "وأكد أن “الحرب لن تنتهي، وأن السلام بعيد” وأن الحل سياسي.",
        [(9, 40, "الحرب لن تنتهي، وأن السلام بعيد", 0.8), (46, 56, "الحل سياسي", 0.8)],
    ),
    (
        "colon-quote",
        "وقال في بيان: «إن الوضع صعب»، مشيرا إلى أن القوات انسحبت.",
        [(18, 27, "الوضع صعب", 0.85), (43, 56, "القوات انسحبت", 0.8)],
    ),
    ("interview", "س : هل الوضع صعب ؟ ج : الوضع صعب جدا .", [(23, 36, "الوضع صعب جدا", 0.85)]),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in PINNED], ids=[c[0] for c in PINNED])
def test_pinned_spans(text: str, expected: list[tuple[int, int, str, float]]) -> None:
    claims = find_claims(text)
    assert [(c["start"], c["end"], c["text"], c["score"]) for c in claims] == expected
    assert all(c["label"] == "CLAIM" for c in claims)


def _run_on(unit: str, n: int) -> tuple[str, list[int]]:
    """``unit`` said ``n`` times in one sentence, and where each copy starts."""
    return " ".join([unit] * n), [i * (len(unit) + 1) for i in range(n)]


# Thousands of reports in one sentence (boilerplate, run-on transcripts): each claim's end was
# searched by a rescan of the sentence, 5,000 copies of the first took 39 s; each case is
# (unit, where its claim starts in the first copy, in the others (None: nested in the first)).
RUN_ONS = [
    ("قال الوزير إن الوضع", "الوضع", None),  # a bare verb is a nested report: one claim to the end
    ("وقال الوزير إن الوضع", "الوضع", "الوضع"),  # the clitic و starts a new report
    ("أكد أن الوضع صعب وأن", "الوضع", "أكد"),  # each وأن starts a coordinated claim, to the next وأن
    ("بحسب المرصد ، الوضع صعب", "الوضع", None),
    ("قال إن الوضع ، لكنه أكد أن", "الوضع", "قال"),  # "، لكنه أكد" ends a claim and starts the next
]


@pytest.mark.parametrize(("unit", "first", "others"), RUN_ONS)
def test_thousands_of_reports_in_one_sentence(unit: str, first: str, others: str | None) -> None:
    text, starts = _run_on(unit, 3000)
    claims = find_claims(text)
    if others is None:
        assert [(c["start"], c["end"]) for c in claims] == [(unit.index(first), len(text))]
        return
    assert [c["start"] for c in claims] == [starts[0] + unit.index(first)] + [
        s + unit.index(others) for s in starts[1:]
    ]
    assert all(text[c["start"] : c["end"]] == c["text"] for c in claims)


@pytest.mark.parametrize("tail", [" ،", " -", "!"])
def test_nested_reports_ending_in_a_run_of_marks(tail: str) -> None:
    # every nested claim ends at the same marks, and each one walked back over all of them
    text, _ = _run_on("قال الوزير إن الوضع", 3000)
    [claim] = find_claims(text + tail * 3000)
    assert (claim["start"], claim["end"]) == (text.index("الوضع"), len(text))


def test_rejects_non_text() -> None:
    with pytest.raises(TypeError):
        find_claims(None)  # type: ignore[arg-type]


_ALPHABET = list("ابتثجحخدذرسشصضطظعغفقكلمنهوية ءأإآؤئى") + [" ", " ", ".", "،", ",", ":", '"', "«", "»", "“", "”", "\n"]
_WORDS = ["قال", "وقال", "إن", "أن", "وأن", "انه", "بأن", "مضيفا", "جلالته", "يذكر", "لكنها", "أشارت", "إلى"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_WORDS), st.text(_ALPHABET, max_size=6)), max_size=30))
def test_invariants_on_arbitrary_text(parts: list[str]) -> None:
    text = " ".join(parts)
    claims = find_claims(text)
    previous_end = 0
    for claim in claims:
        assert previous_end <= claim["start"] < claim["end"] <= len(text)
        assert text[claim["start"] : claim["end"]] == claim["text"]
        assert claim["text"] == claim["text"].strip()
        previous_end = claim["end"]
    assert find_claims(text) == claims  # pure: same text, same answer
