"""Rule-based CLAIM finder: the baseline for the claim layer and a cheap pre-annotator.

It follows the project's annotation guidelines (data/GUIDELINES.md, sections 6-7) as far as surface
rules can: a claim is the content of attributed speech after a reporting verb (in its inflections,
with the clitics و/ف) and a complementizer (أن/إن/ان/بأن, with or without an attached pronoun: the
word itself stays outside), after a colon, inside a quote pair, or in a clause attributed by a
source adverbial (بحسب، وفق ما أفاد); also after وصف/اتهم with بأن only, a document's جاء في … أن, and a
pull-quote with its speaker after a comma. A claim runs to the sentence end, to the closing quote of a
quote it started in, or to where the reporter speaks again ("، مضيفا أن ...", "، بحسب البيان");
coordinated complements ("أن X وأن Y") are two claims; a claim found inside another is part of the
outer one. Spans are tight: no space or punctuation (quotation marks included) at either edge.

Everything here is pure and works on the original text: offsets are code points into it.
``score`` is a fixed number per rule that orders the rules by how specific their evidence is
(colon > complementizer > quote > honorific = quote attributed afterwards > source adverbial); it
is neither measured nor calibrated, and is there so that rule output has the shape of model output.
"""

from __future__ import annotations

from naba.claims.finder import RuleTagger, find_claims

__all__ = ["RuleTagger", "find_claims"]
