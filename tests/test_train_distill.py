"""Distillation (``distill.teacher``): a 1-layer student of a tiny 2-layer random-BERT teacher.

Covers: the kept layers; the student folder is an ordinary transformer folder with fewer layers that
loads, predicts and follows its teacher; the unlabelled article titles of the build get soft labels
(and rows already labelled are not counted twice); the soft-label loss; config errors (no teacher,
a teacher of another kind or label set, model.name_or_path beside a teacher, too many layers).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from mlnews.config import from_dict
from mlnews.errors import ConfigError, MlnewsError
from mlnews.infer.classifier import Classifier
from mlnews.train.classifier import train_from_config
from mlnews.train.config import ClassifierConfig
from mlnews.train.distill import TeacherStates, fidelity, hidden_state_loss, kept_layers, soft_label_loss
from test_train_tinybert import build_tiny_bert, build_tiny_dataset, synthetic_rows

TRAIN = {"batch_size": 8, "learning_rate": 3e-3, "logging_steps": 5, "seed": 7, "eval_strategy": "steps",
         "eval_steps": 10, "warmup_ratio": 0.0, "num_threads": 1}


def _with_articles(ds: Path) -> Path:
    """Add a summarisation split like `mlnews data build` writes: unlabelled articles (+ one labelled twin)."""
    from datasets import Dataset, DatasetDict

    rows = synthetic_rows(30, seed=21)
    arts = [{"id": f"a{i}", "text": r["body"] or "Текст", "title": r["text"], "lead": r["lead"], "lang": r["lang"],
             "source": r["source"], "group": f"ga{i}"} for i, r in enumerate(rows)]
    arts.append({"id": "empty", "text": "x", "title": "", "lead": "", "lang": "ru", "source": "s", "group": "ge"})
    split = {"train": Dataset.from_list(arts), "validation": Dataset.from_list(arts[:3]),
             "test": Dataset.from_list(arts[3:6])}
    DatasetDict(split).save_to_disk(str(ds / "summarisation"))
    return ds


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("distill")
    data = _with_articles(build_tiny_dataset(root / "ds"))
    bert = build_tiny_bert(root / "bert")
    teacher_cfg = from_dict(ClassifierConfig, {
        "data": {"path": str(data)},
        "model": {"kind": "transformer", "name_or_path": str(bert), "max_length": 32},
        "train": {**TRAIN, "max_steps": 120}})
    teacher = train_from_config(teacher_cfg, root / "teacher")
    return {"data": data, "bert": bert, "teacher": teacher, "root": root}


def student_cfg(tiny, **distill) -> ClassifierConfig:
    return from_dict(ClassifierConfig, {
        "data": {"path": str(tiny["data"])},
        "model": {"kind": "transformer", "max_length": 24},
        "train": {**TRAIN, "max_steps": 30},
        "distill": {"teacher": str(tiny["teacher"]), "layers": 1, "temperature": 2.0, "alpha": 0.3, **distill}})


def test_kept_layers_are_evenly_spaced_with_the_top_one():
    assert kept_layers(12, 4) == [2, 5, 8, 11]
    assert kept_layers(12, 6) == [1, 3, 5, 7, 9, 11]
    assert kept_layers(2, 1) == [1]
    assert kept_layers(3, 3) == [0, 1, 2]
    with pytest.raises(ConfigError, match="distill.layers: 5 > the teacher's 4"):
        kept_layers(4, 5)
    assert kept_layers(12, [0, 1, 2, 3]) == [0, 1, 2, 3]
    for bad in ([], [3, 1], [1, 1], [0, 12], [-1, 2]):
        with pytest.raises(ConfigError, match="distill.layers: .* increasing list of the teacher's layer indices 0-11"):
            kept_layers(12, bad)


def test_a_student_of_listed_layers_keeps_those(tiny):
    cfg = student_cfg(tiny)
    cfg.distill.layers = [0]
    out = train_from_config(cfg, tiny["root"] / "student-bottom")
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["num_hidden_layers"] == 1
    assert "| teacher layers kept | 0 |" in (out / "README.md").read_text(encoding="utf-8")
    with pytest.raises(ConfigError, match="distill.layers: expected"):
        from_dict(ClassifierConfig, {"data": {"path": str(tiny["data"])}, "model": {"kind": "transformer"},
                                     "distill": {"teacher": str(tiny["teacher"]), "layers": "bottom"}})


def test_soft_label_loss_is_zero_when_student_matches_teacher_and_grows_with_the_gap():
    import torch

    t = torch.tensor([[2.0, 0.0, -1.0]])
    assert float(soft_label_loss(t.clone(), t, 2.0)[0]) == pytest.approx(0.0, abs=1e-6)
    near = float(soft_label_loss(torch.tensor([[1.5, 0.0, -1.0]]), t, 2.0)[0])
    far = float(soft_label_loss(torch.tensor([[-2.0, 0.0, 1.0]]), t, 2.0)[0])
    assert 0 < near < far


def test_hidden_state_loss_is_zero_for_parallel_states_and_grows_with_the_angle():
    import torch

    teacher = torch.tensor([[[1.0, 0.0], [0.0, 2.0]]])  # [rows, layers, hidden]
    embeddings = torch.zeros(1, 3, 2)  # hidden_states[0] (the embedding output) is not compared
    same = (embeddings, torch.tensor([[[3.0, 0.0]] * 3]), torch.tensor([[[0.0, 0.5]] * 3]))
    assert float(hidden_state_loss(same, teacher)[0]) == pytest.approx(0.0, abs=1e-6)  # cos ignores scale
    tilted = (embeddings, torch.tensor([[[1.0, 1.0]] * 3]), torch.tensor([[[0.0, 1.0]] * 3]))
    opposite = (embeddings, torch.tensor([[[-1.0, 0.0]] * 3]), torch.tensor([[[0.0, 1.0]] * 3]))
    assert 0 < float(hidden_state_loss(tilted, teacher)[0]) < float(hidden_state_loss(opposite, teacher)[0])
    assert float(hidden_state_loss(opposite, teacher)[0]) == pytest.approx(2.0)  # (4 + 0) / 2 layers
    with pytest.raises(MlnewsError, match="do not match the teacher's"):
        hidden_state_loss((embeddings, torch.zeros(1, 3, 2)), teacher)


def test_hidden_state_loss_over_tokens_counts_only_the_masked_in_positions():
    import torch

    # [rows, layers, positions, hidden]: one row, one layer, three positions
    teacher = torch.tensor([[[[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]]])
    embeddings = torch.zeros(1, 3, 2)
    student = (embeddings, torch.tensor([[[2.0, 0.0], [0.0, 3.0], [-1.0, 0.0]]]))  # the last one opposite
    both = torch.tensor([[True, True, False]])
    assert float(hidden_state_loss(student, teacher, both)[0]) == pytest.approx(0.0, abs=1e-6)
    every = torch.tensor([[True, True, True]])
    assert float(hidden_state_loss(student, teacher, every)[0]) == pytest.approx(4.0 / 3)  # (0 + 0 + 4) / 3
    none = torch.tensor([[False, False, False]])
    assert float(hidden_state_loss(student, teacher, none)[0]) == pytest.approx(0.0)  # nothing shared: no loss
    # a student batch padded shorter than the stored positions is compared on its own width
    short = (embeddings[:, :2], student[1][:, :2])
    assert float(hidden_state_loss(short, teacher[:, :, :2], every[:, :2])[0]) == pytest.approx(0.0, abs=1e-6)


def test_teacher_states_batch_masks_padding_and_positions_where_the_tokens_differ():
    import torch

    states = TeacherStates(np.arange(2 * 1 * 4 * 2, dtype=np.float16).reshape(2, 1, 4, 2),
                           np.array([[0, 5, 6, 2], [0, 7, 2, -1]], dtype=np.int32))
    input_ids = torch.tensor([[0, 7, 2], [0, 5, 2]])  # rows 1 and 0; row 0 cut shorter: </s> (2) where 6 was
    attention = torch.tensor([[1, 1, 1], [1, 1, 1]])
    got, mask = states.batch(torch.tensor([1, 0]), input_ids, attention)
    assert got.shape == (2, 1, 3, 2) and got.dtype == torch.float32
    assert torch.equal(got[0], torch.from_numpy(states.states[1, :, :3].astype(np.float32)))
    assert mask.tolist() == [[True, True, True], [True, True, False]]
    padded = torch.tensor([[1, 1, 0], [1, 1, 1]])
    assert states.batch(torch.tensor([1, 0]), input_ids, padded)[1].tolist() == [[True, True, False],
                                                                                 [True, True, False]]
    first = TeacherStates(np.ones((2, 1, 2), dtype=np.float32))
    got, mask = first.batch(torch.tensor([1]), input_ids[:1], attention[:1])
    assert got.shape == (1, 1, 2) and mask is None


def _token_cosine(student_dir: Path, teacher_dir: Path, texts: list[str]) -> float:
    """Mean cosine between the student's layer-1 states and the teacher's layer-1 states over every real token."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(teacher_dir)
    enc = tok(texts, padding=True, truncation=True, max_length=24, return_tensors="pt")
    with torch.no_grad():
        s = AutoModelForSequenceClassification.from_pretrained(student_dir)(**enc, output_hidden_states=True)
        t = AutoModelForSequenceClassification.from_pretrained(teacher_dir)(**enc, output_hidden_states=True)
    cos = torch.nn.functional.cosine_similarity(s.hidden_states[1], t.hidden_states[2], dim=-1)
    keep = enc["attention_mask"].bool()
    return float(cos[keep].mean())


def test_hidden_tokens_all_pulls_every_token_state_towards_the_teacher_layer(tiny):
    with_loss = train_from_config(student_cfg(tiny, hidden_weight=5.0, hidden_tokens="all"),
                                  tiny["root"] / "student-ht")
    plain = train_from_config(student_cfg(tiny), tiny["root"] / "student-plain-t")
    assert "hidden-state loss weight (every shared token" in (with_loss / "README.md").read_text(encoding="utf-8")
    report = json.loads((with_loss / "metrics.json").read_text(encoding="utf-8"))
    texts = [r["text"] for r in synthetic_rows(40, seed=17)]
    near = _token_cosine(with_loss, tiny["teacher"], texts)
    far = _token_cosine(plain, tiny["teacher"], texts)
    assert near > far + 0.02, (near, far)  # 0.933 vs 0.897 with the deterministic tiny tokenizer
    teacher, student = Classifier.load(tiny["teacher"]), Classifier.load(with_loss)
    agreement = np.mean([a["label"] == b["label"] for a, b in zip(teacher.predict(texts), student.predict(texts))])
    assert agreement >= 0.75, (agreement, report.get("validation"))


def _cls_cosine(student_dir: Path, teacher_dir: Path, layers: list[int], texts: list[str]) -> float:
    """Mean cosine between each student layer's [CLS] state and its teacher layer's, on ``texts``."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(teacher_dir)
    enc = tok(texts, padding=True, truncation=True, max_length=24, return_tensors="pt")
    with torch.no_grad():
        s = AutoModelForSequenceClassification.from_pretrained(student_dir)(**enc, output_hidden_states=True)
        t = AutoModelForSequenceClassification.from_pretrained(teacher_dir)(**enc, output_hidden_states=True)
    cos = [torch.nn.functional.cosine_similarity(s.hidden_states[k + 1][:, 0], t.hidden_states[i + 1][:, 0], dim=-1)
           for k, i in enumerate(layers)]
    return float(torch.stack(cos).mean())


def test_hidden_weight_pulls_the_student_states_towards_the_teacher_layers(tiny):
    with_loss = train_from_config(student_cfg(tiny, hidden_weight=5.0), tiny["root"] / "student-h")
    plain = train_from_config(student_cfg(tiny), tiny["root"] / "student-plain")
    assert "[CLS] state loss weight" in (with_loss / "README.md").read_text(encoding="utf-8")
    texts = [r["text"] for r in synthetic_rows(40, seed=17)]
    near = _cls_cosine(with_loss, tiny["teacher"], [1], texts)
    far = _cls_cosine(plain, tiny["teacher"], [1], texts)
    assert near > far, (near, far)
    teacher, student = Classifier.load(tiny["teacher"]), Classifier.load(with_loss)
    agreement = np.mean([a["label"] == b["label"] for a, b in zip(teacher.predict(texts), student.predict(texts))])
    assert agreement >= 0.75, agreement


def test_student_is_a_smaller_transformer_folder_that_follows_its_teacher(tiny):
    cfg = student_cfg(tiny)
    cfg.train.group_by_length = True  # as the shipped student config (see the fidelity check below)
    out = train_from_config(cfg, tiny["root"] / "student")
    manifest = json.loads((out / "mlnews.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "transformer" and manifest["input"]["max_length"] == 24
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["num_hidden_layers"] == 1
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "distilled from (teacher)" in card and "| teacher layers kept | 1 |" in card
    # 30 synthetic article titles are unlabelled; the one with an empty title is not used
    assert "90 + 30" in card, card[card.find("soft-label rows"):][:120]
    # its validation fidelity: the student scored against the teacher's top labels, per language
    from datasets import load_from_disk

    fid = json.loads((out / "metrics.json").read_text(encoding="utf-8"))["validation_fidelity"]
    val = load_from_disk(str(tiny["data"] / "classification"))["validation"]
    n_val = len(val)
    assert fid["all"]["n"] == n_val and sum(v["n"] for g, v in fid.items() if g != "all") == n_val
    assert {"ru", "uk"} <= set(fid) and all(0.0 <= v["agreement"] <= 1.0 for v in fid.values())
    assert fid["all"]["agreement"] >= 0.6 and fid["all"]["macro_f1"] > 0.0, fid
    # the same agreement as the two saved folders give on the validation rows, row by row (the student trains with
    # train.group_by_length, whose evaluation loader reorders rows: the fidelity must not pair shuffled rows)
    t_val = Classifier.load(tiny["teacher"]).predict(list(val["text"]), leads=list(val["lead"]), bodies=list(val["body"]))
    s_val = Classifier.load(out).predict(list(val["text"]), leads=list(val["lead"]), bodies=list(val["body"]))
    assert fid["all"]["agreement"] == round(float(np.mean([a["label"] == b["label"] for a, b in zip(t_val, s_val)])), 4)
    assert re.search(r"\| validation agreement with the teacher \(all / ru / uk\) \| [0-9.]+ / [0-9.]+ / [0-9.]+ \|", card)
    assert "validation fidelity macro-F1" in card
    teacher, student = Classifier.load(tiny["teacher"]), Classifier.load(out)
    rows = synthetic_rows(60, seed=13)
    texts = [r["text"] for r in rows]
    t_pred = [p["label"] for p in teacher.predict(texts)]
    s_pred = [p["label"] for p in student.predict(texts)]
    # the teacher must have learnt the keyword topics (0.97 here), or agreeing with it means nothing
    assert np.mean([p == r["label"] for p, r in zip(t_pred, rows)]) >= 0.8
    agreement = np.mean([a == b for a, b in zip(t_pred, s_pred)])
    assert agreement >= 0.75, agreement  # 0.93 here; 3 labels: chance agreement is about 1/3


def test_fidelity_scores_the_student_against_the_teachers_labels_per_language():
    teacher = [0, 1, 2, 0, 3, 0]
    langs = ["ru", "ru", "ru", "uk", "uk", "uk"]
    same = fidelity(teacher, teacher, langs, 4)
    assert same["all"] == {"n": 6, "agreement": 1.0, "macro_f1": 1.0} and same["uk"]["n"] == 3
    lazy = fidelity(teacher, [0] * 6, langs, 4)  # says the teacher's majority label to everything
    assert lazy["all"]["agreement"] == 0.5 and lazy["uk"]["agreement"] == round(2 / 3, 4)
    assert lazy["all"]["macro_f1"] < 0.3 < lazy["uk"]["macro_f1"] < 1.0
    with pytest.raises(ValueError, match="5 student labels"):
        fidelity(teacher, [0] * 5, langs, 4)


def test_without_unlabelled_rows_only_the_labelled_ones_get_soft_labels(tiny):
    out = train_from_config(student_cfg(tiny, unlabelled=False), tiny["root"] / "student-l")
    assert "90 + 0" in (out / "README.md").read_text(encoding="utf-8")


def test_student_with_body_sentences_reports_them_in_its_card(tiny):
    import re

    out = train_from_config(student_cfg(tiny, unlabelled_sentences=50), tiny["root"] / "student-s")
    card = (out / "README.md").read_text(encoding="utf-8")
    row = re.search(r"\| unlabelled body sentences \(soft labels only\) \| (\d+) \((.*?)\) \|", card)
    assert row, card[card.find("soft-label rows"):][:300]
    added = int(row.group(1))
    kept = [int(k) for k in re.findall(r"(\d+) of \d+", row.group(2))]
    assert 0 < added <= sum(kept) <= 50
    teacher, student = Classifier.load(tiny["teacher"]), Classifier.load(out)
    texts = [r["text"] for r in synthetic_rows(60, seed=13)]
    agreement = np.mean([a["label"] == b["label"] for a, b in zip(teacher.predict(texts), student.predict(texts))])
    assert agreement >= 0.75, agreement


def test_student_with_unlabelled_files_reports_them_and_leaves_test_rows_out(tiny, tmp_path):
    import re

    from datasets import load_from_disk

    test_rows = load_from_disk(str(tiny["data"] / "classification"))["test"]
    outside = [{"title": r["text"], "lang": r["lang"]} for r in synthetic_rows(40, seed=99)]
    leaked = [{"title": test_rows[i]["text"], "lang": test_rows[i]["lang"]} for i in range(3)]
    path = tmp_path / "outside.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in outside + leaked) + "\n", encoding="utf-8")
    out = train_from_config(student_cfg(tiny, unlabelled=False, unlabelled_files=[str(path)]), tiny["root"] / "st-f")
    card = (out / "README.md").read_text(encoding="utf-8")
    row = re.search(r"\| unlabelled file rows \(soft labels only\) \| (\d+) of (\d+) read \((.*?); (\d+) equal", card)
    assert row, card[card.find("soft-label rows"):][:400]
    kept, read, left_out = int(row.group(1)), int(row.group(2)), int(row.group(4))
    assert read == 43 and left_out >= 3 and 0 < kept <= 40
    files = json.loads((out / "metrics.json").read_text(encoding="utf-8"))["distill_texts"]["files"]
    reasons = ("other_language", "same_as_validation_or_test", "near_validation_or_test", "same_as_a_labelled_row",
               "duplicate", "capped")
    assert files["read"] == files["kept"] + sum(files["skipped"].values()) + sum(files[k] for k in reasons)


def test_prune_vocab_gives_a_smaller_student_that_computes_what_the_full_one_does(tiny, tmp_path):
    from test_train_static import build_unigram_bert

    bert = build_unigram_bert(tmp_path / "unigram")
    teacher = train_from_config(from_dict(ClassifierConfig, {
        "data": {"path": str(tiny["data"])}, "model": {"kind": "transformer", "name_or_path": str(bert),
                                                       "max_length": 32},
        "train": {**TRAIN, "max_steps": 40}}), tmp_path / "teacher")

    def student(prune: bool) -> Path:
        cfg = student_cfg(tiny, prune_vocab=prune)
        cfg.distill.teacher = str(teacher)
        return train_from_config(cfg, tmp_path / f"student-{prune}")

    full, pruned = student(False), student(True)
    sizes = [json.loads((d / "config.json").read_text(encoding="utf-8"))["vocab_size"] for d in (full, pruned)]
    assert sizes[1] < sizes[0], sizes
    card = (pruned / "README.md").read_text(encoding="utf-8")
    assert f"| student vocabulary (pruned to the training texts) | {sizes[1]:,} of {sizes[0]:,} pieces |" in card
    texts = [r["text"] for r in synthetic_rows(40, seed=13)]
    a, b = Classifier.load(full).predict(texts, top_k=4), Classifier.load(pruned).predict(texts, top_k=4)
    for x, y in zip(a, b):  # the same network on the same pieces: the same scores
        assert x["label"] == y["label"]
        p, q = ({t["label"]: t["score"] for t in z["top_k"]} for z in (x, y))
        assert p.keys() == q.keys() and max(abs(p[k] - q[k]) for k in p) < 1e-4
    from mlnews.infer.onnx import export_onnx

    export_onnx(pruned, pruned / "onnx", int8=False)  # exported like any student folder
    c = Classifier.load(pruned / "onnx").predict(texts)
    assert np.mean([x["label"] == z["label"] for x, z in zip(b, c)]) >= 0.95


def test_prune_vocab_needs_a_unigram_teacher(tiny, tmp_path):
    with pytest.raises(ConfigError, match="distill.prune_vocab: .* tokenizer is WordPiece, not Unigram"):
        train_from_config(student_cfg(tiny, prune_vocab=True), tmp_path / "s")


@pytest.mark.parametrize("change, message", [
    ({"distill": {"teacher": None, "layers": 2}}, "distill.teacher: required"),
    ({"model": {"name_or_path": "e5-small"}}, "model.name_or_path: a distilled student starts from distill.teacher"),
    ({"distill": {"hidden_tokens": "all"}}, "distill.hidden_tokens: only read with distill.hidden_weight > 0"),
    ({"distill": {"hidden_weight": 1.0, "hidden_tokens": "cls"}}, "distill.hidden_tokens"),
])
def test_config_errors(tiny, change, message):
    d = {"data": {"path": str(tiny["data"])}, "model": {"kind": "transformer"},
         "distill": {"teacher": str(tiny["teacher"])}}
    for k, v in change.items():
        d[k] = {**d[k], **v}
    with pytest.raises(ConfigError, match=message):
        from_dict(ClassifierConfig, d)


def test_distill_is_refused_for_other_kinds(tiny):
    with pytest.raises(ConfigError, match="distill: not used by model.kind tfidf"):
        from_dict(ClassifierConfig, {"data": {"path": str(tiny["data"])}, "model": {"kind": "tfidf"},
                                     "distill": {"teacher": str(tiny["teacher"])}})


def test_teacher_with_other_labels_or_kind_is_a_one_line_error(tiny, tmp_path):
    other = _with_articles(build_tiny_dataset(tmp_path / "ds4", labels=["economy", "sports", "politics", "science"]))
    cfg = student_cfg(tiny)
    cfg.data.path = str(other)
    with pytest.raises(ConfigError, match="distill.teacher: .* was trained on the labels"):
        train_from_config(cfg, tmp_path / "s")
    tfidf = train_from_config(from_dict(ClassifierConfig, {"data": {"path": str(tiny["data"])},
                                                           "model": {"kind": "tfidf"}}), tmp_path / "tfidf")
    cfg = student_cfg(tiny)
    cfg.distill.teacher = str(tfidf)
    with pytest.raises(ConfigError, match="is a 'tfidf' model folder; the teacher must be a fine-tuned transformer"):
        train_from_config(cfg, tmp_path / "s2")
