"""The soft-label texts of a distillation run (:mod:`mlnews.train.distill_texts`): body sentences shared evenly
between the languages; rows of outside files through the one input reader, with malformed, foreign, repeated
and leaking rows (equal or near a validation / test row) counted and left out; the config rules of those keys.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from datasets import Dataset, DatasetDict

from mlnews.config import from_dict
from mlnews.errors import ConfigError
from mlnews.train.config import ClassifierConfig
from mlnews.train.distill_texts import file_inputs, sentence_inputs


def test_body_sentences_are_shared_evenly_between_languages_and_filtered(tmp_path):
    ru = ["МОСКВА, 3 дек - РИА Новости.", "Центробанк снова повысил ключевую ставку до рекордных значений.",
          "Коротко.", "Рубль подешевел к доллару на торгах биржи в пятницу утром.",
          "Аналитики ждут нового роста цен на бензин уже весной."]
    uk = ["Збірна України з футболу виграла матч у Варшаві.", "Так.", "Уряд ухвалив новий бюджет на наступний рік."]
    arts = [{"id": "r", "text": " ".join(ru), "title": "т", "lead": "", "lang": "ru", "source": "s", "group": "g1"},
            {"id": "u", "text": " ".join(uk), "title": "т", "lead": "", "lang": "uk", "source": "s", "group": "g2"}]
    DatasetDict({"train": Dataset.from_list(arts)}).save_to_disk(str(tmp_path / "summarisation"))
    labelled = ["query: Рубль подешевел к доллару на торгах биржи в пятницу утром."]
    data = SimpleNamespace(dataset_dir=str(tmp_path), splits={"train": SimpleNamespace(inputs=labelled)})

    def cfg(n):
        return SimpleNamespace(data=SimpleNamespace(train_split="train"), train=SimpleNamespace(seed=3),
                               distill=SimpleNamespace(unlabelled_sentences=n))

    texts, report = sentence_inputs(cfg(3), data, "query: ")
    # ru: 2 usable (dateline, "Коротко." and the labelled one left out), uk: 2 usable ("Так." too short)
    assert (report["dateline"], report["too_short_or_long"], report["same_as_a_labelled_row"]) == (1, 2, 1)
    assert report["by_lang"] == {"ru": {"available": 2, "kept": 1}, "uk": {"available": 2, "kept": 2}}  # 3 // 2, rest
    assert len(texts) == report["kept"] == 3 and all(t.startswith("query: ") for t in texts)
    assert not set(texts) & set(labelled)
    assert sentence_inputs(cfg(3), data, "query: ")[0] == texts  # seeded
    everything, report = sentence_inputs(cfg(100), data, "query: ")
    assert len(everything) == 4 and {v["kept"] for v in report["by_lang"].values()} == {2}
    # a mapping: that many of each listed language, none of the others; a short pool gives what it has
    uk_only, report = sentence_inputs(cfg({"uk": 1}), data, "query: ")
    assert report["by_lang"] == {"ru": {"available": 2, "asked": 0, "kept": 0},
                                 "uk": {"available": 2, "asked": 1, "kept": 1}}
    assert len(uk_only) == report["kept"] == 1 and uk_only[0] in {f"query: {t}" for t in uk}
    both, report = sentence_inputs(cfg({"ru": 5, "uk": 2}), data, "query: ")
    assert report["by_lang"]["ru"] == {"available": 2, "asked": 5, "kept": 2} and len(both) == 4


@pytest.mark.parametrize("value", [{}, {"uk": -1}, {" ": 3}, "many"])
def test_per_language_sentence_counts_are_checked(value):
    with pytest.raises(ConfigError, match="distill.unlabelled_sentences"):
        from_dict(ClassifierConfig, {"model": {"kind": "transformer"},
                                     "distill": {"teacher": "t", "unlabelled_sentences": value}})


def _split(texts, langs):
    return SimpleNamespace(inputs=[f"query: {t}" for t in texts], langs=langs, raw=[{"text": t} for t in texts])


def _files_cfg(tmp_path, files, **distill):
    cfg = from_dict(ClassifierConfig, {"data": {"path": str(tmp_path), "use_lead": True, "body_chars": 20},
                                       "model": {"kind": "transformer"}, "train": {"seed": 5},
                                       "distill": {"teacher": "t", "unlabelled_files": files, **distill}})
    return cfg


HELD_OUT = "Сборная России по хоккею обыграла команду Канады в финале турнира в Москве"


@pytest.fixture()
def files_data(tmp_path):
    data = SimpleNamespace(dataset_dir=str(tmp_path), splits={
        "train": _split(["Рубль подешевел к доллару", "Уряд ухвалив бюджет"], ["ru", "uk"]),
        "validation": _split([HELD_OUT], ["ru"]),
        "test": _split(["Учёные нашли воду на Марсе"], ["ru"])})
    rows = [
        {"title": "Центробанк повысил ключевую ставку", "lead": "Решение принято в пятницу.", "text": "Тело статьи " * 5},
        {"title": "Збірна України виграла матч у Варшаві", "lang": "uk"},
        {"title": "учёные нашли воду на Марсе!"},                      # the test row, written otherwise
        {"title": HELD_OUT.replace("в Москве", "в Казани")},          # nearly the validation row
        {"title": "рубль подешевел к доллару"},                        # a labelled training row
        {"title": "Apple unveiled a new iPhone today in California", "lang": "en"},
        {"title": "Центробанк повысил ключевую ставку", "lead": "Решение принято в пятницу.", "text": "Тело статьи " * 5},
        {"title": 42},                                                 # malformed: not a string
        {"lead": "нет заголовка"},                                     # malformed: no title
        {"title": "Газ подорожал в Европе на пять процентов"},
    ]
    path = tmp_path / "extra.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n{broken\n", encoding="utf-8")
    return data, path


def test_file_rows_are_counted_by_reason_and_leaks_left_out(tmp_path, files_data):
    data, path = files_data
    texts, report = file_inputs(_files_cfg(tmp_path, [str(path)]), data, "query: ")
    assert report["read"] == 11
    assert report["skipped"] == {"type": 1, "missing": 1, "json": 1}
    assert (report["same_as_validation_or_test"], report["near_validation_or_test"]) == (1, 1)
    assert (report["same_as_a_labelled_row"], report["other_language"], report["duplicate"]) == (1, 1, 1)
    assert report["kept"] == len(texts) == 3 and report["by_lang"] == {"ru": 2, "uk": 1}
    counted = sum(report["skipped"].values()) + sum(report[k] for k in (
        "same_as_validation_or_test", "near_validation_or_test", "same_as_a_labelled_row", "other_language",
        "duplicate", "capped"))
    assert report["read"] == report["kept"] + counted
    # composed like a labelled row: prefix, title, lead, the first body_chars of the body
    assert texts[0].startswith("query: Центробанк повысил ключевую ставку\nРешение принято в пятницу.\nТело статьи Тело")
    assert not any("Марсе" in t or "Казани" in t for t in texts)


def test_file_rows_sampled_seeded_and_skip_taken_inputs(tmp_path, files_data):
    data, path = files_data
    taken = ["query: Газ подорожал в Европе на пять процентов"]
    texts, report = file_inputs(_files_cfg(tmp_path, [str(path)], unlabelled_files_rows=1), data, "query: ", taken)
    assert report["duplicate"] == 2 and report["capped"] == 1 and len(texts) == report["kept"] == 1
    assert file_inputs(_files_cfg(tmp_path, [str(path)], unlabelled_files_rows=1), data, "query: ", taken)[0] == texts
    assert not set(texts) & set(taken)


def test_file_columns_name_other_fields(tmp_path, files_data):
    data, _ = files_data
    path = tmp_path / "extra.csv"
    path.write_text("headline,lang\nГаз подорожал в Европе,ru\nНовий закон про освіту,uk\n", encoding="utf-8")
    texts, report = file_inputs(_files_cfg(tmp_path, [str(path)], unlabelled_files_columns={"text": "headline"}),
                                data, "query: ")
    assert texts == ["query: Газ подорожал в Европе", "query: Новий закон про освіту"] and report["read"] == 2


@pytest.mark.parametrize("distill, message", [
    ({"unlabelled_files": ["nowhere.jsonl"]}, "distill.unlabelled_files: file or folder 'nowhere.jsonl' not found"),
    ({"unlabelled_files": [], "unlabelled_files_rows": 5}, "distill.unlabelled_files_rows: only read with"),
    ({"unlabelled_files_columns": {"text": "title"}}, "distill.unlabelled_files_columns: only read with"),
    ({"unlabelled_files": ["x"], "unlabelled_files_columns": {"lead": "lead"}}, "must map 'text'"),
    ({"unlabelled_files": ["x"], "unlabelled_files_columns": {"text": "t", "label": "y"}}, "must map 'text'"),
])
def test_unlabelled_files_config_errors(tmp_path, distill, message):
    def make():
        cfg = from_dict(ClassifierConfig, {"data": {"path": str(tmp_path)}, "model": {"kind": "transformer"},
                                           "distill": {"teacher": "t", **distill}})
        file_inputs(cfg, SimpleNamespace(splits={"train": _split([], []), "validation": _split([], [])}), "")
    with pytest.raises(ConfigError, match=message):
        make()
