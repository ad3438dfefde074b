"""Extractive summariser training (oracle labels, config, the real `train` entry point on a tiny random encoder)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from mlnews.errors import ConfigError

CITIES = ["Москве", "Киеве", "Казани", "Львове", "Одессе", "Самаре", "Харькове", "Томске", "Днепре", "Перми",
          "Минске", "Полтаве"]
EVENTS = ["открыли новый мост через реку", "прошёл большой фестиваль музыки", "выпал первый снег за зиму",
          "закрыли старую школу на ремонт", "начался важный матч сезона", "подорожал проезд в метро"]
FILLER = ["Об этом сообщили местные власти.", "Подробности пока неизвестны.", "Жители обсуждают новость в сетях.",
          "Ранее похожие случаи уже бывали.", "Эксперты не дают прогнозов.", "Ситуацию держат на контроле.",
          "Журналисты продолжают следить за развитием событий.", "Официальных комментариев не поступало."]


def _articles(n: int, seed: int) -> list[dict]:
    """Articles of 5 sentences: one says what the title says, at a random position; the rest is filler."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        city, event = rng.choice(CITIES), rng.choice(EVENTS)
        sents = rng.sample(FILLER, 4)
        pos = rng.randrange(5)
        sents.insert(pos, f"В {city} {event} в понедельник.")
        rows.append({"id": f"a{seed}-{i}", "text": " ".join(sents), "title": f"В {city} {event}",
                     "lead": f"В {city} {event}, сообщают власти.", "lang": "ru" if i % 2 else "uk", "pos": pos})
    return rows


def test_greedy_oracle_picks_the_overlapping_sentence():
    from mlnews.evaluate.rouge import tokenize
    from mlnews.train.extractive import greedy_oracle

    sents = ["Погода хорошая.", "В Киеве открыли новый мост.", "Мост длиной 300 метров."]
    toks = [tokenize(s) for s in sents]
    assert greedy_oracle(toks, tokenize("В Киеве открыли мост"), 3) == [1]
    assert greedy_oracle(toks, tokenize("Новый мост в Киеве длиной 300 метров"), 3) == [1, 2]
    assert greedy_oracle(toks, tokenize("ничего общего"), 3) == []
    assert greedy_oracle(toks, tokenize("В Киеве открыли мост"), 3, skip=2) == [2]  # a skipped dateline


def test_oracle_keeps_cyrillic():
    """PreSumm's oracle drops non-Latin text and labels nothing; ours must label Russian/Ukrainian sentences."""
    from mlnews.evaluate.rouge import tokenize
    from mlnews.train.extractive import greedy_oracle

    sents = ["Зеленський провів нараду з урядом.", "Погода в Києві тепла."]
    assert greedy_oracle([tokenize(s) for s in sents], tokenize("Зеленський провів нараду"), 2) == [0]


def test_config_errors(tmp_path: Path):
    from mlnews.train.config import load_summariser_config

    path = tmp_path / "c.yaml"
    path.write_text("task: summarisation\nmodel: {kind: extractive}\n", encoding="utf-8")
    cfg = load_summariser_config(path)
    assert cfg.target.fields == ["lead", "title"] and cfg.target.default == "lead"
    for bad, key in [("target.fields=[summary]", "target.fields"),
                     ("target.default=title", "target.default"),  # with fields=[lead]
                     ("target.title_in_input=[title]", "target.title_in_input"),
                     ("model.layers=0", "model.layers"),
                     ("generation.num_beams=2", "generation"),  # seq2seq only: would be ignored
                     ("target.field=lead", "target.field"),
                     ("model.decoder_layers=2", "model.decoder_layers"),
                     ("target.repeat={summary: 2}", "target.repeat"),
                     ("target.repeat={lead: 0}", "target.repeat"),
                     ("target.temperature=0.5", "target.temperature"),  # listwise only; the loss is bce
                     ("target.first_sentence_bonus=-1", "target.first_sentence_bonus"),
                     ("target.textrank_weight=-0.5", "target.textrank_weight"),
                     ("model.position_buckets=-1", "model.position_buckets")]:
        overrides = ["target.fields=[lead]", bad] if key == "target.default" else [bad]
        with pytest.raises(ConfigError, match=key.replace(".", "[.]")):
            load_summariser_config(path, overrides)
    seq2seq = tmp_path / "s.yaml"
    seq2seq.write_text("task: summarisation\nmodel: {kind: seq2seq}\ntarget: {fields: [lead]}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="target[.]fields: not used by model.kind seq2seq"):
        load_summariser_config(seq2seq)


def _tiny_encoder(out: Path, texts: list[str]) -> Path:
    from transformers import BertConfig, BertModel

    from tests.test_train_summariser import _tiny_unigram_tokenizer

    tok = _tiny_unigram_tokenizer(texts, out)
    cfg = BertConfig(vocab_size=len(tok), hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=128, max_position_embeddings=256, pad_token_id=tok.pad_token_id,
                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    BertModel(cfg).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, list[dict]]:
    """30 training articles, 40 held-out ones; the real `train` entry point for 80 steps."""
    from mlnews.train.extractive import train

    work = tmp_path_factory.mktemp("extractive")
    train_rows, test_rows = _articles(30, seed=1), _articles(40, seed=2)
    enc = _tiny_encoder(work / "enc", [r["text"] + " " + r["title"] for r in train_rows + test_rows] + FILLER * 3)
    data = work / "articles.jsonl"
    with open(data, "w", encoding="utf-8") as fh:
        for split, rows in (("train", train_rows), ("validation", test_rows[:5]), ("test", test_rows)):
            for r in rows:
                fh.write(json.dumps({**r, "split": split}, ensure_ascii=False) + "\n")
    cfg = work / "extractive.yaml"
    cfg.write_text(f"""
task: summarisation
data: {{path: {data.name}, eval_max_examples: 40}}  # beside the config: the one path rule
model: {{kind: extractive, name_or_path: "{enc}", vocab: corpus, max_length: 128, input_prefix: ""}}
target: {{fields: [lead, title], default: lead, title_in_input: [lead], sentences: {{lead: 1, title: 1}}}}
train: {{max_steps: 80, learning_rate: 2.0e-3, batch_size: 10, warmup_ratio: 0.0, logging_steps: 20,
        eval_strategy: steps, eval_steps: 40, save_total_limit: 1, seed: 3, num_threads: 2}}
""", encoding="utf-8")
    out = train(cfg, work / "model", [], resume=False)
    return out, test_rows


def test_tiny_encoder_learns_the_oracle_sentence(trained):
    from mlnews import Summariser
    from mlnews.types import Article

    out, rows = trained
    for target in ("title", "lead"):
        s = Summariser.load(out, target=target)
        hits = 0
        for r in rows:
            summary = s.summarise(Article(title=r["title"], paragraphs=[r["text"]]))
            assert len(summary.scores) == 5 and summary.indices and len(summary.indices) == 1
            hits += summary.indices[0] == r["pos"]
        # Chance is 1/5 (8 of 40). Measured: 40/40 for both targets (seed 3); the floor leaves room
        # for tokenizer-training ties across platforms.
        assert hits >= 24, (target, hits)


def test_model_folder_contract(trained):
    from mlnews.modelfolder import ModelFolder

    out, _ = trained
    folder = ModelFolder.open(out, task="summarisation")
    assert folder.manifest.kind == "extractive"
    assert folder.manifest.extra["extractive"]["targets"] == ["lead", "title"]
    names = {p.name for p in out.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "mlnews.json", "metrics.json", "README.md",
            "train_config.yaml", "train_history.json"} <= names
    assert not names & {"pytorch_model.bin", "training_args.bin", "checkpoints"}
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert set(metrics["by_target"]) == {"lead", "title"}
    for m in metrics["by_target"].values():
        assert {"rouge1", "rouge2", "rougeL", "chrf", "per_lang"} <= set(m) and m["n"] == 40
    # the TextRank weight and the first-sentence bonus were chosen per target on the validation split, jointly,
    # and are what inference uses
    ext = folder.manifest.extra["extractive"]
    assert set(ext["first_sentence_bonus"]) == set(ext["textrank_weight"]) == {"lead", "title"}
    for target, chosen in metrics["selection"].items():
        assert chosen["chosen_on"] == "validation" and chosen["n"] == 5
        grid = {float(w): {float(b): r for b, r in row.items()} for w, row in chosen["grid"].items()}  # JSON keys
        assert sorted(grid) == [0.0, 0.25, 0.5, 1.0, 2.0, 4.0] and all(len(row) == 5 for row in grid.values())
        best = max(((w, b) for w in grid for b in grid[w]), key=lambda wb: (grid[wb[0]][wb[1]], -wb[0], -wb[1]))
        assert (ext["textrank_weight"][target], ext["first_sentence_bonus"][target]) == \
            (chosen["textrank_weight"], chosen["bonus"]) == best
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "extractive" in card and "| title | all | 40 |" in card and "$" not in card.split("## Training config")[0]
    assert "first-sentence bonus lead: " in card and "TextRank weight lead: " in card and "per-sentence binary loss" in card


def test_listwise_loss_with_position_buckets_learns(trained, tmp_path: Path):
    """The shipped recipe's options (graded labels, listwise loss, sentence positions, a repeated target,
    a fixed bonus) through the real entry point on the tiny fixture."""
    from mlnews import Summariser
    from mlnews.train.extractive import train
    from mlnews.types import Article

    out, rows = trained
    cfg = out.parent / "listwise.yaml"  # beside the data its relative data.path names
    cfg.write_text((out / "train_config.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    model = train(cfg, tmp_path / "m", ["target.loss=listwise", "target.temperature=0.2", "model.position_buckets=8",
                                        "target.repeat={lead: 2}", "target.first_sentence_bonus=0",
                                        "target.textrank_weight=0"], resume=False)
    hist = json.loads((model / "train_history.json").read_text(encoding="utf-8"))
    assert hist["examples"]["lead"]["examples"] == 30  # 30 articles; repeated twice in the epoch, counted once
    for target in ("title", "lead"):
        s = Summariser.load(model, target=target)
        assert s.first_bonus == 0.0 and s.textrank_weight == 0.0
        hits = sum(s.summarise(Article(title=r["title"], paragraphs=[r["text"]])).indices[0] == r["pos"] for r in rows)
        assert hits >= 24, (target, hits)  # chance: 8 of 40
    card = (model / "README.md").read_text(encoding="utf-8")
    assert "listwise loss, softmax temperature 0.2" in card


def test_resume_continues_from_a_checkpoint(trained, tmp_path: Path):
    """A run stopped by the time limit keeps its checkpoint; --resume finishes it."""
    from mlnews.train.extractive import train

    out, _ = trained
    cfg = out.parent / "resume.yaml"  # beside the data its relative data.path names
    text = (out / "train_config.yaml").read_text(encoding="utf-8")
    cfg.write_text(text, encoding="utf-8")
    first = tmp_path / "m"
    train(cfg, first, ["train.max_steps=20", "train.eval_steps=10", "train.keep_checkpoints=true",
                       "train.time_limit_minutes=0.0001"], resume=False)
    hist = json.loads((first / "train_history.json").read_text(encoding="utf-8"))
    assert hist["stopped_by_time_limit"] and hist["global_step"] < 20
    (first / "mlnews.json").unlink()  # as if the first run had been killed after its checkpoint
    train(cfg, first, ["train.max_steps=20", "train.eval_steps=10"], resume=True)
    hist = json.loads((first / "train_history.json").read_text(encoding="utf-8"))
    assert hist["global_step"] == 20 and hist["resumed_from"]


def test_cli_summarise_and_serve_use_the_trained_model(trained, tmp_path: Path, capsys):
    """`mlnews summarise --model DIR [--target] --json` and `POST /summarise` of `mlnews serve --summariser DIR`."""
    from cli_runner import main

    def run(*argv: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as exc:
            main(list(argv))
        out, err = capsys.readouterr()
        return exc.value.code, out, err

    out, rows = trained
    page = tmp_path / "a.txt"
    page.write_text(rows[0]["title"] + "\n\n" + rows[0]["text"] + "\n", encoding="utf-8")
    for target in ("lead", "title"):
        code, stdout, err = run("summarise", str(page), "--model", str(out), "--target", target, "--json")
        assert code == 0, err
        rec = json.loads(stdout)
        assert rec["method"].endswith(f":{target}") and len(rec["scores"]) == 5
        assert rec["sentences"] and all(s in rows[0]["text"] for s in rec["sentences"])
    code, _, err = run("summarise", str(page), "--model", "lead", "--target", "title")
    assert code == 2 and "only a trained extractive model" in err and "Traceback" not in err

    from fastapi.testclient import TestClient

    from infer_helpers import tiny_tfidf_dir
    from mlnews.serve import create_app

    http = TestClient(create_app(tiny_tfidf_dir(tmp_path / "clf"), summariser=str(out)))
    r = http.post("/summarise", json={"text": rows[1]["text"], "max_words": 30})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["method"].startswith("extractive:") and len(body["scores"]) == 5 and body["summary"] in rows[1]["text"]
