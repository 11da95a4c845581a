"""Malformed inputs, one per row: each must give a DataError naming the file, the place and the reason."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
from pathlib import Path

import pytest

from naba.corpus import formats
from naba.errors import DataError


def _j(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _task(value: dict, *, kind: str = "labels", **task: object) -> str:
    body = {"id": 1, "data": {"text": "قال محمد"}, "annotations": [{"result": [
        {"id": "r1", "type": kind, "from_name": "l", "to_name": "t", "value": value}]}]}
    body.update(task)
    return _j([body])


GOOD_VALUE = {"start": 4, "end": 8, "text": "محمد", "labels": ["PERS"]}

# (case id, files to write {name: content}, path to read, format, reader options, [fragments])
CASES = [
    # native JSONL
    ("jsonl-bad-json", {"c.jsonl": '{"id": "a", "text": }\n'}, "c.jsonl", None, {}, ["line 1", "invalid JSON"]),
    ("jsonl-bad-utf8", {"c.jsonl": b'{"id": "a", "text": "ok"}\n{"id": "b", "text": "\xff"}\n'}, "c.jsonl", None, {},
     ["line 2", "invalid UTF-8"]),
    ("jsonl-not-object", {"c.jsonl": "[1, 2]\n"}, "c.jsonl", None, {}, ["line 1", "expected a JSON object, got list"]),
    ("jsonl-no-id", {"c.jsonl": _j({"text": "نص"})}, "c.jsonl", None, {}, ["line 1", "'id' must be a non-empty string"]),
    ("jsonl-int-id", {"c.jsonl": _j({"id": 7, "text": "نص"})}, "c.jsonl", None, {}, ["line 1", "got 7"]),
    ("jsonl-no-text", {"c.jsonl": _j({"id": "a"})}, "c.jsonl", None, {}, ["line 1", "'text' must be a string"]),
    ("jsonl-unknown-key", {"c.jsonl": _j({"id": "a", "text": "نص", "span": []})}, "c.jsonl", None, {},
     ["line 1", "unknown key(s) ['span']"]),
    ("jsonl-spans-not-list", {"c.jsonl": _j({"id": "a", "text": "نص", "spans": {}})}, "c.jsonl", None, {},
     ["line 1", "'spans' must be a list"]),
    ("jsonl-span-not-object", {"c.jsonl": _j({"id": "a", "text": "نص", "spans": [[0, 1, "ACTOR"]]})}, "c.jsonl",
     None, {}, ["line 1", "span 0: expected an object"]),
    ("jsonl-float-offset", {"c.jsonl": _j({"id": "a", "text": "نص", "spans": [{"start": 0.0, "end": 1, "label": "ACTOR"}]})},
     "c.jsonl", None, {}, ["line 1", "'start' and 'end' must be integers"]),
    ("jsonl-bool-offset", {"c.jsonl": _j({"id": "a", "text": "نص", "spans": [{"start": False, "end": True, "label": "ACTOR"}]})},
     "c.jsonl", None, {}, ["line 1", "got False and True"]),
    ("jsonl-int-label", {"c.jsonl": _j({"id": "a", "text": "نص", "spans": [{"start": 0, "end": 1, "label": 3}]})},
     "c.jsonl", None, {}, ["line 1", "'label' must be a string"]),
    ("jsonl-unknown-label", {"c.jsonl": _j({"id": "a", "text": "نص", "spans": [{"start": 0, "end": 1, "label": "FOO"}]})},
     "c.jsonl", None, {}, ["line 1", "unknown label 'FOO'"]),
    ("jsonl-out-of-range", {"c.jsonl": _j({"id": "a", "text": "نص", "spans": [{"start": 0, "end": 5, "label": "ACTOR"}]})},
     "c.jsonl", None, {}, ["line 1", "[0, 5) ACTOR: out of range for a text of 2 characters"]),
    ("jsonl-negative-start", {"c.jsonl": _j({"id": "a", "text": "نص", "spans": [{"start": -1, "end": 1, "label": "ACTOR"}]})},
     "c.jsonl", None, {}, ["line 1", "[-1, 1) ACTOR: out of range"]),
    ("jsonl-start-after-end", {"c.jsonl": _j({"id": "a", "text": "نص", "spans": [{"start": 2, "end": 1, "label": "ACTOR"}]})},
     "c.jsonl", None, {}, ["line 1", "start must be before end"]),
    ("jsonl-same-layer-overlap",
     {"c.jsonl": _j({"id": "a", "text": "قال محمد", "spans": [{"start": 0, "end": 5, "label": "ACTOR"},
                                                               {"start": 4, "end": 8, "label": "LOCATION"}]})},
     "c.jsonl", None, {}, ["line 1", "spans overlap in layer 'entity'"]),
    ("jsonl-empty-text", {"c.jsonl": _j({"id": "a", "text": ""})}, "c.jsonl", None, {}, ["line 1", "empty document"]),
    ("jsonl-blank-text", {"c.jsonl": _j({"id": "a", "text": " \n\t"})}, "c.jsonl", None, {}, ["line 1", "empty document"]),
    ("jsonl-duplicate-id", {"c.jsonl": _j({"id": "a", "text": "نص"}) + "\n" + _j({"id": "a", "text": "نص"})},
     "c.jsonl", None, {}, ["line 2", "duplicate id 'a' (first seen at line 1)"]),
    ("jsonl-span-text-mismatch",
     {"c.jsonl": _j({"id": "a", "text": "قال محمد", "spans": [{"start": 4, "end": 8, "label": "ACTOR", "text": "احمد"}]})},
     "c.jsonl", None, {}, ["line 1", "'text' is 'احمد' but the document has 'محمد'"]),
    ("jsonl-meta-not-object", {"c.jsonl": _j({"id": "a", "text": "نص", "meta": [1]})}, "c.jsonl", None, {},
     ["line 1", "'meta' must be an object"]),
    ("jsonl-nan", {"c.jsonl": '{"id": "a", "text": "نص", "meta": {"x": NaN}}'}, "c.jsonl", None, {},
     ["line 1", "NaN is not valid JSON"]),
    # json keeps the last of a key given twice: a second "spans" silently dropped the first's spans
    ("jsonl-duplicate-spans-key",
     {"c.jsonl": '{"id": "a", "text": "قال محمد", "spans": [{"start": 4, "end": 8, "label": "ACTOR"}], "spans": []}'},
     "c.jsonl", None, {}, ["line 1", "key 'spans' given twice in one object"]),
    ("jsonl-duplicate-key-in-span",
     {"c.jsonl": '{"id": "a", "text": "قال محمد", "spans": [{"start": 4, "end": 8, "label": "ACTOR", "start": 0}]}'},
     "c.jsonl", None, {}, ["line 1", "key 'start' given twice in one object"]),
    # a number past float's range was read as infinity
    ("jsonl-number-out-of-range", {"c.jsonl": '{"id": "a", "text": "نص", "meta": {"x": -1e400}}'}, "c.jsonl", None, {},
     ["line 1", "number -1e400 is out of range"]),
    ("jsonl-deep-nesting", {"c.jsonl": "[" * 100_000}, "c.jsonl", None, {}, ["line 1", "nested too deeply"]),
    ("jsonl-lone-surrogate", {"c.jsonl": '{"id": "a", "text": "ok"}\n{"id": "b", "text": "x\\ud83d y"}\n'},
     "c.jsonl", None, {}, ["line 2", "\\ud83d is half of a UTF-16 surrogate pair"]),
    ("jsonl-lone-low-surrogate-in-meta", {"c.jsonl": '{"id": "a", "text": "ok", "meta": {"k": "\\uDE00"}}'},
     "c.jsonl", None, {}, ["line 1", "\\uDE00 is half of a UTF-16 surrogate pair"]),
    ("missing-file", {}, "nothing.jsonl", None, {}, ["nothing.jsonl", "cannot read file"]),
    # a mistyped brat folder: not "cannot tell the format from 'no extension'" nor "must be ... a folder"
    ("missing-folder", {}, "corpus", None, {}, ["corpus", "no such file or folder"]),
    ("brat-missing-folder", {}, "corpus", "brat", {}, ["corpus", "no such file or folder"]),
    ("unknown-extension", {"c.csv": "a,b\n"}, "c.csv", None, {}, ["c.csv", "cannot tell the format from '.csv'"]),
    # a doccano export (also .jsonl) read as native JSONL did not say doccano
    ("jsonl-doccano-label", {"c.jsonl": _j({"id": "a", "text": "قال محمد", "label": [[4, 8, "PER"]]})}, "c.jsonl", None, {},
     ["line 1", "unknown key(s) ['label']", "a doccano export? read it as doccano (--format doccano"]),
    ("jsonl-doccano-entities", {"c.jsonl": _j({"id": 3, "text": "قال محمد", "entities": []})}, "c.jsonl", None, {},
     ["line 1", "unknown key(s) ['entities']", "a doccano export?"]),
    # doccano
    ("doccano-bad-triple", {"d.jsonl": _j({"text": "نص", "label": [[0, 1]]})}, "d.jsonl", "doccano", {},
     ["line 1", "label[0]: expected [start, end, label]"]),
    # a text classification project's export: categories, not spans, under "label"
    ("doccano-categories", {"d.jsonl": _j({"id": 1, "text": "نص", "label": ["CLAIM", "other"]})}, "d.jsonl",
     "doccano", {}, ["line 1", "'label' holds categories (['CLAIM', 'other'])", "text classification export?"]),
    ("doccano-both-shapes", {"d.jsonl": _j({"text": "نص", "label": [[0, 1, "PERS"]],
                                           "entities": [{"start_offset": 0, "end_offset": 1, "label": "PERS"}]})},
     "d.jsonl", "doccano", {}, ["line 1", "both 'label' and 'entities'"]),
    ("doccano-entity-missing-offset", {"d.jsonl": _j({"text": "نص", "entities": [{"end_offset": 1, "label": "PERS"}]})},
     "d.jsonl", "doccano", {}, ["line 1", "entities[0]: expected an object with start_offset"]),
    ("doccano-float-id", {"d.jsonl": _j({"id": 1.5, "text": "نص"})}, "d.jsonl", "doccano", {},
     ["line 1", "'id' must be a string or an integer"]),
    ("doccano-text-not-string", {"d.jsonl": "\n" + _j({"text": ["نص"]})}, "d.jsonl", "doccano", {},
     ["line 2", "'text' must be a string"]),
    # the text read from doccano 1.4-1.5's 'data': the message names that key (a Label Studio task said 'text')
    ("doccano-data-not-string", {"d.jsonl": _j({"id": 1, "data": {"text": "نص"}})}, "d.jsonl", "doccano", {},
     ["line 1", "'data' must be a string, got dict"]),
    ("doccano-string-offsets", {"d.jsonl": _j({"text": "نص", "label": [["0", "1", "PERS"]]})}, "d.jsonl", "doccano",
     {}, ["line 1", "label[0]: offsets must be integers"]),
    ("doccano-label-not-list", {"d.jsonl": _j({"text": "نص", "label": "PERS"})}, "d.jsonl", "doccano", {},
     ["line 1", "'label' must be a list"]),
    ("doccano-duplicate-key", {"d.jsonl": '\n{"text": "نص", "label": [[0, 1, "PERS"]], "label": []}'}, "d.jsonl",
     "doccano", {}, ["line 2", "key 'label' given twice in one object"]),
    ("doccano-unknown-label", {"d.jsonl": _j({"text": "نص", "label": [[0, 1, "WEAPON"]]})}, "d.jsonl", "doccano", {},
     ["line 1", "unknown label 'WEAPON'"]),
    # doccano 0.x's export (label ids, not names) was read as a document without spans
    ("doccano-0.x-label-ids", {"d.jsonl": _j({"id": 15, "text": "قال محمد", "meta": {}, "annotations": [
        {"label": 7, "start_offset": 4, "end_offset": 8, "user": 1}]})}, "d.jsonl", "doccano", {},
     ["line 1", "'annotations' (1 span(s), first {'label': 7,", "doccano 0.x's export", "label ids, not names"]),
    ("doccano-0.x-beside-label", {"d.jsonl": "\n" + _j({"text": "قال محمد", "label": [[0, 3, "PERS"]], "annotations": [
        {"label": 7, "start_offset": 4, "end_offset": 8, "user": 1}]})}, "d.jsonl", "doccano", {},
     ["line 2", "doccano 0.x's export"]),
    # naba's native JSONL read as doccano (`--format doccano` on the wrong file): its "spans" were ignored
    # like any other key, and every document read (and validated) as one without spans
    ("doccano-native-spans", {"d.jsonl": "\n" + _j({"id": "a", "text": "قال محمد", "spans": [
        {"start": 4, "end": 8, "label": "ACTOR"}]})}, "d.jsonl", "doccano", {},
     ["line 2", "'spans' (1 span(s)", "naba's native JSONL", "without --format doccano"]),
    # Label Studio
    ("ls-not-a-list", {"ls.json": _j({"id": 1, "data": {"text": "نص"}})}, "ls.json", None, {},
     ["ls.json", "expected a JSON list of tasks, got dict"]),
    ("ls-bad-json", {"ls.json": '[\n{"id": 1,\n "data": {"text": "x"}\n'}, "ls.json", None, {},
     ["line 4", "invalid JSON"]),
    ("ls-duplicate-key", {"ls.json": '[{"id": 1, "data": {"text": "قال محمد", "text": "نص"}}]'}, "ls.json", None, {},
     ["ls.json", "key 'text' given twice in one object"]),
    ("ls-task-not-object", {"ls.json": "[1]"}, "ls.json", None, {}, ["task 0", "expected a task object, got int"]),
    ("ls-lone-surrogate", {"ls.json": '[\n{"id": 1, "data": {"text": "\\ud83d\\ude00"}},\n{"id": 2, "data": {"text": "\\ud800"}}\n]'},
     "ls.json", None, {}, ["line 3", "\\ud800 is half of a UTF-16 surrogate pair"]),
    ("ls-no-text", {"ls.json": _j([{"id": 1, "data": {"body": "نص"}}])}, "ls.json", None, {},
     ["task 0 (id=1)", "task needs 'data.text'"]),
    # no value.text (Label Studio leaves it out for some texts) after an emoji: the unit must be said
    ("ls-no-value-text-after-emoji", {"ls.json": _task({"start": 6, "end": 10, "labels": ["PERS"]},
                                                       data={"text": "🙂 قال محمد"})}, "ls.json", None, {},
     ["task 0 (id=1)", "[6, 10) has no value.text", "say which with offsets='codepoints' or 'utf16' (--input-offsets)"]),
    # Label Studio's JSON-MIN export: the text and the regions at the top level of each task
    ("ls-json-min", {"ls.json": _j([{"id": 1, "text": "قال محمد", "label": [{**GOOD_VALUE}], "annotator": 1,
                                     "annotation_id": 3}])}, "ls.json", None, {},
     ["task 0 (id=1)", "task needs 'data.text'", "JSON-MIN", "export as JSON"]),
    ("ls-neither-unit", {"ls.json": _task({**GOOD_VALUE, "text": "احمد"})}, "ls.json", None, {},
     ["task 0 (id=1)", "neither as code points nor as UTF-16", "value.text 'احمد' but the text there is 'محمد'"]),
    ("ls-empty-labels", {"ls.json": _task({**GOOD_VALUE, "labels": []})}, "ls.json", None, {},
     ["task 0 (id=1)", "region 'r1': value.labels must be a non-empty list"]),
    ("ls-string-offsets", {"ls.json": _task({**GOOD_VALUE, "start": "4"})}, "ls.json", None, {},
     ["task 0 (id=1)", "value.start and value.end must be integers"]),
    ("ls-annotation-index", {"ls.json": _task(GOOD_VALUE)}, "ls.json", None, {"annotation": 3},
     ["task 0 (id=1)", "annotation index 3 out of range: the task has 1 annotation(s)"]),
    ("ls-unknown-label", {"ls.json": _task({**GOOD_VALUE, "labels": ["BANANA"]})}, "ls.json", None, {},
     ["task 0 (id=1)", "region 'r1': unknown label 'BANANA'"]),
    ("ls-annotations-not-list", {"ls.json": _j([{"id": 2, "data": {"text": "نص"}, "annotations": {"result": []}}])},
     "ls.json", None, {}, ["task 0 (id=2)", "'annotations' must be a list of objects"]),
    ("ls-float-id", {"ls.json": _j([{"id": 2.5, "data": {"text": "نص"}}])}, "ls.json", None, {},
     ["task 0 (id=2.5)", "'id' must be a string or an integer"]),
    ("ls-empty-region", {"ls.json": _task({**GOOD_VALUE, "start": 4, "end": 4, "text": ""})}, "ls.json", None, {},
     ["task 0 (id=1)", "region 'r1' [4, 4) is not a non-empty range within the text (8 characters)"]),
    ("ls-reversed-region", {"ls.json": _task({**GOOD_VALUE, "start": 8, "end": 4})}, "ls.json", None, {},
     ["task 0 (id=1)", "region 'r1' [8, 4) is not a non-empty range"]),
    ("ls-region-past-the-text", {"ls.json": _task({"start": 4, "end": 80, "labels": ["PERS"]})}, "ls.json", None, {},
     ["task 0 (id=1)", "region 'r1' [4, 80) is not a non-empty range"]),
    # <Text valueType="url">: the task holds a link, the regions are in the text behind it (was: offsets
    # "not a non-empty range within the text (26 characters)", with no word of why)
    ("ls-text-is-a-link", {"ls.json": _task({**GOOD_VALUE, "start": 30, "end": 34},
                                            data={"text": "https://example.org/a1.txt"})}, "ls.json", None, {},
     ["task 0 (id=1)", "[30, 34) is not a non-empty range", "the task's text is a link ('https://example.org/a1.txt')",
      'valueType="url"', "put the text itself in the task"]),
    ("ls-text-is-an-upload", {"ls.json": _task({**GOOD_VALUE, "start": 30, "end": 34},
                                               data={"text": "/data/upload/3/f1e2-article.txt"})}, "ls.json", None, {},
     ["task 0 (id=1)", "the task's text is a link ('/data/upload/3/f1e2-article.txt')"]),
    # spans of a HyperText or Paragraphs object, which have no offsets into data.text: not silently none
    ("ls-hypertext-region", {"ls.json": _task({"start": "/p[1]/text()[1]", "end": "/p[1]/text()[1]", "startOffset": 4,
                                               "endOffset": 8, "text": "محمد", "hypertextlabels": ["PERS"]},
                                              kind="hypertextlabels", data={"text": "<p>قال محمد</p>"})},
     "ls.json", None, {}, ["task 0 (id=1)", "region 'r1': a 'hypertextlabels' region", "type 'labels'"]),
    ("ls-paragraph-region", {"ls.json": _task({"start": "0", "end": "0", "startOffset": 4, "endOffset": 8,
                                               "text": "محمد", "paragraphlabels": ["PERS"]},
                                              kind="paragraphlabels", data={"text": "قال محمد"})},
     "ls.json", None, {}, ["task 0 (id=1)", "region 'r1': a 'paragraphlabels' region"]),
    # brat
    ("brat-no-txt", {"x.ann": "T1\tPERS 0 1\tم\n"}, "x.ann", None, {}, ["x.ann", "no text file x.txt"]),
    ("brat-bad-offsets", {"x.txt": "محمد", "x.ann": "T1\tPERS a b\tمحمد\n"}, "x.ann", None, {},
     ["x.ann", "line 1 (T1)", "bad offsets 'a b'"]),
    ("brat-discontinuous", {"x.txt": "محمد بن علي", "x.ann": "T1\tPERS 0 4;8 11\tمحمد علي\n"}, "x.ann", None, {},
     ["x.ann", "line 1 (T1)", "fragments 0 4;8 11"]),
    ("brat-text-mismatch", {"x.txt": "محمد", "x.ann": "\nT1\tPERS 0 4\tأحمد\n"}, "x.ann", None, {},
     ["x.ann", "line 2 (T1)", "span text 'أحمد' does not match"]),
    ("brat-unknown-line", {"x.txt": "محمد", "x.ann": "Z1\tsomething\n"}, "x.ann", None, {},
     ["x.ann", "line 1", "unknown annotation line 'Z1\\tsomething'"]),
    ("brat-missing-offsets", {"x.txt": "محمد", "x.ann": "T1\tPERS\tمحمد\n"}, "x.ann", None, {},
     ["x.ann", "line 1", "expected 'T<n><TAB>LABEL START END<TAB>text'"]),
    ("brat-duplicate-tid", {"x.txt": "محمد", "x.ann": "T1\tPERS 0 4\tمحمد\nT1\tLOC 0 4\tمحمد\n"}, "x.ann", None, {},
     ["x.ann", "line 2 (T1)", "duplicate annotation id T1 (first on line 1)"]),
    ("brat-unknown-label", {"x.txt": "محمد", "x.ann": "T1\tWEAPON 0 4\tمحمد\n"}, "x.ann", None, {},
     ["x.ann", "line 1 (T1)", "unknown label 'WEAPON'"]),
    ("brat-beyond-text", {"x.txt": "محمد", "x.ann": "T1\tPERS 2 9\tمد\n"}, "x.ann", None, {},
     ["x.ann", "line 1 (T1)", "offsets 2 9 are not a non-empty range in a text of 4 characters"]),
    ("brat-empty-range", {"x.txt": "محمد", "x.ann": "T1\tPERS 2 2\t\n"}, "x.ann", None, {},
     ["x.ann", "line 1 (T1)", "offsets 2 2 are not a non-empty range"]),
    ("brat-bad-utf8", {"x.txt": "محمد", "x.ann": b"T1\tPERS 0 4\t\xd9\n"}, "x.ann", None, {},
     ["x.ann", "line 1", "invalid UTF-8"]),
    ("brat-overlap", {"x.txt": "محمد علي", "x.ann": "T1\tPERS 0 4\tمحمد\nT2\tLOC 2 8\tمد علي\n"}, "x.ann", None, {},
     ["x.ann", "spans overlap in layer 'entity'"]),
    ("brat-empty-folder", {"sub/readme.md": "x"}, "sub", "brat", {}, ["sub", "no brat .ann files in this folder"]),
    # CoNLL
    ("conll-one-field", {"t.conll": "محمد B-PERS\nقال\n"}, "t.conll", None, {}, ["t.conll", "line 2", "expected 'token TAG'"]),
    ("conll-bad-tag", {"t.conll": "محمد B_PER\n"}, "t.conll", None, {}, ["t.conll", "line 1", "bad tag 'B_PER'"]),
    ("conll-unknown-type", {"t.conll": "صاروخ B-WEAPON\n"}, "t.conll", None, {},
     ["t.conll", "line 1", "unknown label 'WEAPON'"]),
    ("conll-I-after-O", {"t.conll": "قال O\nمحمد I-PERS\n"}, "t.conll", None, {},
     ["t.conll", "line 2", "broken BIO sequence: 'I-PERS' after 'O' on line 1"]),
    ("conll-I-after-other", {"t.conll": "محمد B-PERS\nعلي I-ORG\n"}, "t.conll", None, {},
     ["t.conll", "line 2", "'I-ORG' after 'B-PERS' on line 1"]),
    ("conll-bad-utf8", {"t.conll": b"a O\nb O\n\xc3\x28 O\n"}, "t.conll", None, {}, ["t.conll", "line 3", "invalid UTF-8"]),
    # records ending in a lone CR (classic Mac line ends): one line, "Extra data", with no word of why
    ("jsonl-lone-cr", {"c.jsonl": '{"id": "a", "text": "x"}\r{"id": "b", "text": "y"}\r'}, "c.jsonl", None, {},
     ["c.jsonl", "line 1", "Extra data", "end in a lone CR", "convert the line ends"]),
    # PowerShell 5's > writes UTF-16: every line was "invalid UTF-8 (byte 0xff ...)", with no word of why
    ("jsonl-utf16", {"c.jsonl": '{"id": "a", "text": "قال"}\n'.encode("utf-16")}, "c.jsonl", None, {},
     ["c.jsonl", "is UTF-16, not UTF-8", "save it as UTF-8"]),
    ("conll-utf16-be", {"t.conll": "قال O\n".encode("utf-16-be").join([b"\xfe\xff", b""])}, "t.conll", None, {},
     ["t.conll", "is UTF-16, not UTF-8"]),
    # without a byte order mark (Python's utf-16-le): "invalid JSON" / a NUL-ridden token on every line
    ("conll-utf16-le-no-bom", {"t.conll": "قال O\nمحمد B-PERS\n".encode("utf-16-le")}, "t.conll", None, {},
     ["t.conll", "is UTF-16 (little-endian, without a byte order mark", "save it as UTF-8"]),
    ("jsonl-utf16-be-no-bom", {"c.jsonl": '{"id": "a", "text": "قال"}\n'.encode("utf-16-be")}, "c.jsonl", None, {},
     ["c.jsonl", "is UTF-16 (big-endian, without a byte order mark"]),
    # compressed content named by its format: "invalid UTF-8 (byte 0x8b)" on line 1, with no word of why
    ("jsonl-gzip-named-jsonl", {"c.jsonl.gz": gzip.compress(b'{"id": "a", "text": "x"}\n')}, "c.jsonl.gz", "jsonl",
     {}, ["c.jsonl.gz", "is a gzip-compressed file, not text", "decompress it first"]),
    ("conll-bz2-as-txt", {"t.txt": bz2.compress("قال O\n".encode())}, "t.txt", None, {}, ["t.txt", "bz2-compressed"]),
    ("doccano-xz", {"d.jsonl": lzma.compress(b'{"text": "x"}\n')}, "d.jsonl", "doccano", {}, ["d.jsonl", "xz-compressed"]),
    ("ls-zstd", {"t.json": b"\x28\xb5\x2f\xfd\x00\x58\x11\x00\x00[]"}, "t.json", None, {}, ["t.json", "zstd-compressed"]),
    ("conll-empty-type", {"t.iob": "محمد B-\n"}, "t.iob", None, {}, ["t.iob", "line 1", "bad tag 'B-'"]),
    ("conll-lowercase-o", {"t.bio": "محمد o\n"}, "t.bio", None, {}, ["t.bio", "line 1", "bad tag 'o'"]),
]


@pytest.mark.parametrize(("files", "target", "fmt", "opts", "fragments"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed(tmp_path: Path, files: dict, target: str, fmt: str | None, opts: dict, fragments: list[str]) -> None:
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    with pytest.raises(DataError) as info:
        formats.read(tmp_path / target, format=fmt, **opts)
    message = str(info.value)
    assert str(tmp_path / target) in message or str(tmp_path / target.split("/")[0]) in message
    for fragment in fragments:
        assert fragment in message


def test_the_table_is_big_and_distinct() -> None:
    assert len(CASES) >= 40
    assert len({c[0] for c in CASES}) == len(CASES)
    assert len({repr(c[1:]) for c in CASES}) == len(CASES)


def test_every_span_inside_a_longer_one_is_reported(tmp_path: Path) -> None:
    # the first span holds the three after it: each overlaps it, not only the next one
    text = "قال محمد علي في دمشق"
    spans = [{"start": 0, "end": len(text), "label": "ACTOR"}, {"start": 4, "end": 8, "label": "ACTOR"},
             {"start": 9, "end": 12, "label": "ACTOR"}, {"start": 16, "end": 20, "label": "LOCATION"}]
    path = tmp_path / "c.jsonl"
    path.write_text(_j({"id": "a", "text": text, "spans": spans}) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        formats.read(path)
    overlaps = [p.reason for p in info.value.problems if "overlap" in p.reason]
    assert len(overlaps) == 3


@pytest.mark.parametrize(
    ("text", "ann", "opts", "wheres"),
    [
        # an overlap was placed nowhere (a blank where): it names both spans' lines and T ids
        ("محمد علي", "T1\tPERS 0 4\tمحمد\nT2\tLOC 2 8\tمد علي\n", {}, ["line 1 (T1) and line 2 (T2)"]),
        ("محمد علي", "T1\tPERS 0 8\tمحمد علي\n#1\tAnnotatorNotes T1\tx\nT3\tPERS 5 8\tعلي\n", {},
         ["line 1 (T1) and line 3 (T3)"]),
        # both fragments of a split T2 lie inside T1 (each pair in the order the reason gives its spans)
        ("محمد بن علي", "T1\tPERS 0 11\tمحمد بن علي\nT2\tPERS 0 4;8 11\tمحمد علي\n", {"discontinuous": "split"},
         ["line 2 (T2) and line 1 (T1)", "line 1 (T1) and line 2 (T2)"]),
        # a split T1 whose own fragments overlap: one line
        ("محمد بن علي", "T1\tPERS 0 6;4 11\tمحمد ب  بن علي\n", {"discontinuous": "split"}, ["line 1 (T1)"]),
        # T lines out of offset order: the overlap names its own two lines, not those of the spans
        # first in the file (Document sorts its spans; the locators must follow them)
        ("محمد في دمشق", "T1\tLOC 8 12\tدمشق\nT2\tPERS 0 4\tمحمد\nT3\tPERS 2 6\tمد ف\n", {},
         ["line 2 (T2) and line 3 (T3)"]),
        ("محمد في دمشق", "T1\tPERS 2 6\tمد ف\nT2\tLOC 8 12\tدمشق\nT3\tPERS 0 4\tمحمد\n", {},
         ["line 3 (T3) and line 1 (T1)"]),
        # an empty document was placed nowhere: it names the empty text file
        ("", "", {}, ["text file x.txt"]),
        (" \n", "", {}, ["text file x.txt"]),
    ],
)
def test_brat_overlaps_and_empty_documents_name_where_they_are(
    tmp_path: Path, text: str, ann: str, opts: dict, wheres: list[str]
) -> None:
    (tmp_path / "x.txt").write_text(text, encoding="utf-8")
    (tmp_path / "x.ann").write_text(ann, encoding="utf-8")
    with pytest.raises(DataError) as info:
        formats.read(tmp_path / "x.ann", **opts)
    assert [p.where for p in info.value.problems] == wheres
    assert all(p.source == str(tmp_path / "x.ann") for p in info.value.problems)


@pytest.mark.parametrize("end", ["\r", "\r\n", "\n"])
def test_conll_line_ends(tmp_path: Path, end: str) -> None:
    path = tmp_path / "c.conll"
    path.write_text(end.join(["محمد B-PERS", "قال O", "في O", "دمشق B-LOC", ""]), encoding="utf-8", newline="")
    (doc,) = formats.read(path)
    assert doc.text == "محمد قال في دمشق"
    assert [(doc.span_text(s), s.label) for s in doc.spans] == [("محمد", "ACTOR"), ("دمشق", "LOCATION")]


@pytest.mark.parametrize(
    ("name", "content", "lines"),
    [
        ("c.jsonl", b'{"id": "a", "text": "\xff"}\n{"id": "b", "text": "ok"}\n{"id": "c", "text": "\xd9"}\n', ["line 1", "line 3"]),
        ("t.conll", b"\xc3\x28 O\nb O\n\nc\xd9\n\xd9 O", ["line 1", "line 4", "line 5"]),
    ],
    ids=["jsonl", "conll"],
)
def test_every_line_with_invalid_utf8_is_reported(tmp_path: Path, name: str, content: bytes, lines: list[str]) -> None:
    # only the first such line was named, so each rerun of naba data validate found one more
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DataError) as info:
        formats.read(tmp_path / name)
    assert [p.where for p in info.value.problems] == lines
    assert all("invalid UTF-8" in p.reason for p in info.value.problems)


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    path = tmp_path / "c.conll"
    path.write_text("a O\nb I-PERS\n\nc B-FOO\nd\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        formats.read(path)
    assert [p.where for p in info.value.problems] == ["line 2", "line 4", "line 5"]
