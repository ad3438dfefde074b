"""Summariser API and the `mlnews summarise` command (extractive methods; seq2seq is in test_train_summariser)."""

from __future__ import annotations

import json

import pytest

from mlnews.errors import InputError
from mlnews.ingest.sentences import split_sentences
from mlnews.infer.summariser import MAX_SENTENCES, Summariser
from mlnews.types import Article, Headline

BODY = (
    "МОСКВА, 20 окт – РИА Новости. Правительство утвердило новый бюджет на следующий год.\n"
    "Расходы бюджета на образование вырастут на десять процентов. Министр финансов представил бюджет депутатам.\n"
    "Депутаты обсудят бюджет в среду. Погода в столице остаётся тёплой."
)


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    from cli_runner import main

    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_lead_skips_dateline_and_returns_article_sentences_in_order():
    s = Summariser.load("lead-2").summarise(BODY)
    sents = split_sentences(BODY)
    assert s.indices == [1, 2] and s.sentences == sents[1:3]
    assert s.text == " ".join(sents[1:3])
    assert s.method == "lead-2" and s.lang == "ru"


def test_textrank_picks_central_sentences_within_word_budget():
    s = Summariser.load("textrank").summarise(BODY, max_words=12)
    sents = split_sentences(BODY)
    assert s.indices == sorted(s.indices) and all(sents[i] == t for i, t in zip(s.indices, s.sentences))
    assert sum(len(t.split()) for t in s.sentences) <= 12
    assert all("бюджет" in t for t in s.sentences)


def test_article_uses_body_not_sidebar_and_falls_back_to_title():
    art = Article(title="Заголовок", lead="Лид статьи.", paragraphs=["Первое предложение тела. Второе."],
                  headlines=[Headline(text="Чужая новость из сайдбара", time="12:00")])
    s = Summariser.load("lead").summarise(art)
    assert s.sentences == ["Первое предложение тела.", "Второе."]
    only_title = Summariser.load("lead").summarise(Article(title="Единственная строка текста"))
    assert only_title.text == "Единственная строка текста"


def test_over_long_single_sentence_is_cut_to_budget():
    long = "Очень " * 50 + "длинное предложение."
    s = Summariser.load("lead-1").summarise(long, max_words=10)
    assert len(s.text.split()) == 10 and s.text.endswith("…")
    assert any("cut" in n for n in s.notes)


def test_bad_inputs_are_clear(tmp_path):
    for text in ("", "   \n  "):
        with pytest.raises(InputError, match="empty"):
            Summariser.load("textrank").summarise(text)
    one = Summariser.load("textrank").summarise("Одно предложение.")
    assert one.text == "Одно предложение."
    english = Summariser.load("lead").summarise("The cat sat on the mat. It was happy. The end.")
    assert english.lang == "en" and any("Russian and Ukrainian" in n for n in english.notes)
    with pytest.raises(InputError, match="not a summariser"):
        Summariser.load("bart")
    with pytest.raises(InputError, match="max-words"):
        Summariser.load("lead").summarise(BODY, max_words=0)
    (tmp_path / "mlnews.json").write_text(json.dumps({"format": 1, "task": "classification"}), encoding="utf-8")
    with pytest.raises(InputError, match="summarisation"):
        Summariser.load(str(tmp_path))


def test_one_megabyte_article_is_capped():
    big = ("Правительство обсудило бюджет на заседании в Москве. " * 20 + "\n") * 1000
    assert len(big.encode("utf-8")) > 1_000_000
    s = Summariser.load("textrank").summarise(big, max_words=40)
    assert s.indices and max(s.indices) < MAX_SENTENCES
    assert any("first" in n for n in s.notes)


def test_cli_on_seed_page_summarises_body_not_sidebar(capsys, seed_page):
    from mlnews.ingest import read_document

    art = read_document(str(seed_page))
    body = split_sentences("\n".join(art.paragraphs))
    sidebar = {h.text for h in art.headlines}
    for method in ("lead", "textrank"):
        code, out, err = _run(capsys, "summarise", str(seed_page), "--model", method, "--json")
        assert code == 0, err
        rec = json.loads(out)
        assert rec["language"] == "ru" and rec["method"] == f"{method}-3"
        assert rec["sentences"] and all(s in body for s in rec["sentences"])
        assert not any(s in h or h in s for s in rec["sentences"] for h in sidebar)
    code, out, _ = _run(capsys, "summarise", str(seed_page), "--max-words", "25")
    assert code == 0 and 0 < len(out.split()) <= 25


def test_cli_errors_are_one_line(capsys, tmp_path, monkeypatch):
    import io

    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    code, out, err = _run(capsys, "summarise", str(empty))
    assert code == 2 and err.startswith("mlnews: error:") and err.count("\n") == 1 and "Traceback" not in err
    code, _, err = _run(capsys, "summarise", str(tmp_path / "missing.txt"))
    assert code == 2 and "missing.txt" in err
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO("Заголовок\nПервое. Второе.\n".encode())))
    code, out, _ = _run(capsys, "summarise", "-", "--model", "lead-1")
    assert code == 0 and out.strip() == "Первое."


def test_page_that_is_all_sidebar_summarises_to_its_title_with_a_note():
    from mlnews.ingest.page import parse_page_text

    art = parse_page_text("Заголовок страницы\nПоследние новости\nПервая новость\n12:00Вторая новость\n11:00\n", "t")
    assert art.lead is None and art.paragraphs == [] and len(art.headlines) == 2
    for method in ("lead", "textrank"):
        s = Summariser.load(method).summarise(art)
        assert s.text == "Заголовок страницы"
        assert "the article has only a title and 2 sidebar headlines, no lead or body: the summary is the title" in s.notes
    lead_only = Summariser.load("lead").summarise(Article(title="Заголовок", lead="Лид статьи без текста."))
    assert lead_only.text == "Лид статьи без текста."
    assert lead_only.notes == ["the article has no body paragraphs: summarised from its lead"]
    with_body = Summariser.load("lead").summarise(Article(title="З", lead="Лид.", paragraphs=["Тело статьи."]))
    assert not any("body" in n for n in with_body.notes)
