"""Language identification on single headlines (our own sentences) and on the shared corpora's titles."""

from __future__ import annotations

import json
import random

import pytest

from mlnews.ingest.lang import detect_lang

# Original headlines written for this test. The "no cue" ones contain none of і ї є ґ / ы э ъ ё,
# so lingua has to decide them.
RU = [
    "В Казани открыли новый мост через Волгу",
    "Цены на бензин снова выросли за неделю",
    "Школьники из Омска выиграли турнир по шахматам",
    "Синоптики пообещали тёплые выходные в столице",
    "Власти объявили о ремонте главной площади",
    "Учёные описали новый вид летучих мышей",
    "Футбольный клуб подписал контракт с молодым вратарём",
    "В метро появятся новые поезда",
    "Банк снизил ставку по ипотеке",
    "Музей покажет картины из частной коллекции",
    "Правительство утвердило план по строительству дорог",
    "Эксперты назвали причины роста цен на жильё",
    # no cue letters
    "Полиция задержала подозреваемого в краже",
    "Министр рассказал о планах на следующий год",
    "Губернатор посетил новую больницу",
    "Аптеки получили партию лекарств",
    "Хоккеисты сборной начали подготовку к турниру",
    "Мэрия города запустила приложение для жалоб",
    "Автобусы поедут по новому расписанию",
    "Фермеры жалуются на засуху",
    "Сборная проиграла в финале чемпионата",
    "Депутаты приняли закон о туризме",
    "Пожар на складе потушили за три часа",
    "Спутник передал снимки урагана",
]
UK = [
    "У Києві відкрили новий міст через Дніпро",
    "Ціни на пальне знову зросли за тиждень",
    "Школярі з Полтави виграли турнір з шахів",
    "Синоптики пообіцяли теплі вихідні у столиці",
    "Влада оголосила про ремонт головної площі",
    "Науковці описали новий вид кажанів",
    "Футбольний клуб підписав контракт з молодим воротарем",
    "У метро з'являться нові поїзди",
    "Банк знизив ставку за іпотекою",
    "Музей покаже картини з приватної колекції",
    "Уряд затвердив план будівництва доріг",
    "Експерти назвали причини зростання цін на житло",
    # no cue letters
    "Поліція затримала підозрюваного у крадіжці",
    "Міністр розповів про плани на наступний рік",
    "Губернатор відвідав нову лікарню",
    "Аптеки отримали партію ліків",
    "Хокеїсти збірної почали підготовку до турніру",
    "Мерія міста запустила застосунок для скарг",
    "Автобуси поїдуть за новим розкладом",
    "Фермери скаржаться на посуху",
    "Збірна програла у фіналі чемпіонату",
    "Депутати ухвалили закон про туризм",
    "Пожежу на складі загасили за три години",
    "Супутник передав знімки урагану",
]
UK_NO_CUE = [
    "Мерія закрила парк на ремонт",
    "Ураган зруйнував дахи будинкiв",
    "Податкова змiнила правила для бiзнесу",
    "Вчора у столиці пройшов марафон",
]


def test_ukrainian_and_russian_headlines_mostly_right():
    cases = [(h, "ru") for h in RU] + [(h, "uk") for h in UK]
    wrong = [(h, want, detect_lang(h)) for h, want in cases if detect_lang(h) != want]
    assert len(wrong) <= len(cases) * 0.05, wrong


def test_letter_cues_decide_without_lingua():
    assert detect_lang("Їжак і ґудзик") == "uk"
    assert detect_lang("Съезд объявил выборы") == "ru"
    assert detect_lang("ЁЛКИ") == "ru"


def test_headlines_without_cue_letters():
    got = [detect_lang(h) for h in UK_NO_CUE + RU[12:]]
    want = ["uk"] * len(UK_NO_CUE) + ["ru"] * len(RU[12:])
    assert sum(g == w for g, w in zip(got, want)) >= len(want) - 1, list(zip(got, want))


def test_latin_brand_names_in_a_russian_headline():
    assert detect_lang("Adobe выпустила Photoshop для iPad") == "ru"
    assert detect_lang("Apple представила новый iPhone 17 Pro") == "ru"
    assert detect_lang("Google оновив Android для смартфонів Samsung") == "uk"


def test_english_and_other_languages():
    assert detect_lang("Stocks fall as investors weigh the central bank's next move") == "en"
    assert detect_lang("Zelensky meets European leaders in Washington") == "en"
    assert detect_lang("Die Regierung hat heute einen neuen Haushalt beschlossen") == "other"
    assert detect_lang("Le gouvernement a annoncé une nouvelle réforme des retraites") == "other"
    assert detect_lang("Беларускія навукоўцы адкрылі новы від жукоў") == "other"  # Belarusian ў
    assert detect_lang("Српски научници открили нову врсту буба, љубав и њива") == "other"
    assert detect_lang("東京で新しい駅が開業") == "other"
    assert detect_lang("12:30 — 2:0 (1:0)") == "other"
    assert detect_lang("") == "other"


def test_huge_input_is_bounded():
    # only the first MAX_CHARS characters are looked at: the English tail does not count
    assert detect_lang("Київ і Львів. " * 200 + "The rest of this very long text is English. " * 250_000) == "uk"


def test_accuracy_on_shared_titles(shared_data):
    """Sample titles of every shared file (they carry a checked `lang`); floor 0.97."""
    rng = random.Random(13)
    sample: list[tuple[str, str]] = []
    for path in sorted(shared_data.glob("*.jsonl")):
        with open(path, encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
        rows = [r for r in rows if r.get("title") and r.get("lang") in ("ru", "uk")]
        sample += [(r["title"], r["lang"]) for r in rng.sample(rows, min(60, len(rows)))]
    assert len(sample) >= 300
    langs = {lang for _, lang in sample}
    assert langs == {"ru", "uk"}
    correct = sum(detect_lang(title) == lang for title, lang in sample)
    accuracy = correct / len(sample)
    assert accuracy >= 0.97, f"accuracy {accuracy:.3f} on {len(sample)} titles"
    for lang in ("ru", "uk"):
        sub = [(t, g) for t, g in sample if g == lang]
        sub_acc = sum(detect_lang(t) == g for t, g in sub) / len(sub)
        assert sub_acc >= 0.95, f"{lang}: accuracy {sub_acc:.3f} on {len(sub)} titles"


@pytest.mark.parametrize("text", ["", " ", "123", "—", "\u200b"])
def test_no_letters_is_other(text):
    assert detect_lang(text) == "other"
