"""Render model cards (``README.md``) from ``mlnews/templates/`` (classifier and seq2seq summariser).

The template uses :class:`string.Template` placeholders (``$name``); this module only builds the
Markdown tables and fills them in, so wording lives in the template.
"""

from __future__ import annotations

import json
from importlib import resources
from string import Template
from typing import Any, Mapping

from mlnews.config import dump_yaml, to_dict

TEMPLATE = "classifier_card.md"


def md_table(header: list[str], rows: list[list[Any]]) -> str:
    """A GitHub-flavoured Markdown table."""
    if not rows:
        return "_(none)_"
    esc = lambda v: str(v).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(esc(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _fmt(x: Any) -> str:
    return f"{x:.3f}" if isinstance(x, float) else str(x)


def _group_table(groups: Mapping[str, Mapping[str, Any]], name: str) -> str:
    rows = [[g, v["n"], _fmt(v["accuracy"]), _fmt(v["macro_f1"])] for g, v in groups.items()]
    return md_table([name, "n", "accuracy", "macro-F1"], rows)


def _counts_table(summary: Mapping[str, Any], key: str, name: str) -> str:
    splits = list(summary)
    values = sorted({v for s in splits for v in summary[s][key]})
    rows = [[v, *[summary[s][key].get(v, 0) for s in splits]] for v in values]
    return md_table([name, *splits], rows)


def render_classifier_card(
    manifest: Mapping[str, Any],
    cfg: Any,
    summary: Mapping[str, Any],
    report: Mapping[str, Any],
    metrics: Mapping[str, Any],
    training: Mapping[str, Any],
    model_dir: str = "MODEL_DIR",
) -> str:
    """The model card text for a trained classifier."""
    text = resources.files("mlnews").joinpath("templates", TEMPLATE).read_text(encoding="utf-8")
    inp = manifest.get("input", {})
    if inp.get("body_chars", 0) > 0:
        composed = (f"headline, or article title + {'lead + ' if inp.get('use_lead') else ''}the first "
                    f"{inp.get('body_chars')} characters of the body")
    else:
        composed = f"headline, or article title{' + lead' if inp.get('use_lead') else ''}"
    prefix = inp.get("prefix") or ""
    input_description = composed + (f", prefixed with `{prefix.strip()}`" if prefix else "") + (
        f"; truncated to {inp.get('max_length')} tokens" if manifest.get("kind") != "tfidf" else "")
    split_rows = [[role, s["n"]] for role, s in summary.items()]
    dropped = {
        role: r.get("dropped", {}) for role, r in report.get("splits", {}).items() if r.get("dropped")
    }
    val = training.get("validation") or {}
    cfg_d = to_dict(cfg)
    training_rows = [["kind", manifest.get("kind")], ["base model", manifest.get("base_model") or "-"],
                     ["training time (s)", training.get("train_seconds")]]
    for key in ("global_step", "train_loss", "best_validation_macro_f1"):
        if training.get(key) is not None:
            training_rows.append([key.replace("_", " "), _fmt(training[key])])
    params = training.get("parameters")
    if params:
        training_rows.append(["parameters (trainable / total)", f"{params['trainable']:,} / {params['total']:,}"])
    if manifest.get("kind") == "tfidf":
        section = {**cfg_d["tfidf"], "class_weights": cfg_d["train"]["class_weights"]}
    else:
        model_keys = {k: v for k, v in cfg_d["model"].items() if k not in ("kind", "name_or_path")}
        section = {**model_keys, **cfg_d["train"]}
    training_rows += [[k, v] for k, v in section.items()]
    values = {
        "kind": manifest.get("kind"),
        "base_model": manifest.get("base_model") or "word + char n-grams",
        "description": getattr(cfg, "description", "") or "",
        "mlnews_version": manifest.get("mlnews_version"),
        "created": manifest.get("created"),
        "n_labels": len(manifest.get("labels", [])),
        "label_list": ", ".join(f"`{x}`" for x in manifest.get("labels", [])),
        "model_dir": model_dir,
        "input_description": input_description,
        "dataset": report.get("dataset", "?"),
        "taxonomy": manifest.get("taxonomy") or "-",
        "data_table": md_table(["split", "rows"], split_rows) + "\n\n" + _counts_table(summary, "lang", "language")
        + "\n\n" + _counts_table(summary, "source", "source"),
        "origin_table": _counts_table(summary, "label_origin", "label origin"),
        "label_table": _counts_table(summary, "label", "label"),
        "dropped": ", ".join(f"{role}: {d}" for role, d in dropped.items()) or "none",
        "split": metrics.get("split", "test"),
        "metrics_table": md_table(["n", "accuracy", "macro-F1"],
                                  [[metrics["n"], _fmt(metrics["accuracy"]), _fmt(metrics["macro_f1"])]]),
        "lang_table": _group_table(metrics.get("per_lang", {}), "language"),
        "source_table": _group_table(metrics.get("per_source", {}), "source"),
        "class_table": md_table(
            ["label", "precision", "recall", "F1", "support"],
            [[k, _fmt(v["precision"]), _fmt(v["recall"]), _fmt(v["f1"]), v["support"]]
             for k, v in metrics.get("per_class", {}).items()],
        ),
        "validation": f"accuracy {val.get('accuracy', '-')}, macro-F1 {val.get('macro_f1', '-')}" if val else "-",
        "training_table": md_table(["setting", "value"], training_rows),
        "max_length": inp.get("max_length", "-"),
    }
    return Template(text).safe_substitute(values)


def render_summariser_card(name: str, cfg: Any, base: str, metrics: Mapping[str, Any]) -> str:
    """The model card text for a trained seq2seq summariser (``templates/summariser_card.md``)."""
    template = Template(resources.files("mlnews").joinpath("templates", "summariser_card.md").read_text(encoding="utf-8"))
    rows = [("all", metrics)] + sorted(metrics.get("per_lang", {}).items())
    table = "\n".join(
        f"| {name} | {m['n']} | {m['rouge1']:.1f} | {m['rouge2']:.1f} | {m['rougeL']:.1f} | {m['chrf']:.1f} |"
        for name, m in rows
    ) if "rouge1" in metrics else f"| not evaluated: {metrics.get('not_evaluated', '?')} | | | | | |"
    tr = metrics.get("training", {})
    text = template.substitute(
        name=name,
        description=cfg.description or "(no description in the config)",
        base=base,
        target=cfg.target.field,
        data=cfg.data.path,
        split=metrics.get("split", cfg.data.test_split),
        table=table,
        steps=tr.get("global_step", "?"),
        epochs=tr.get("epochs_done", "?"),
        minutes=round(tr.get("train_seconds", 0) / 60, 1),
        time_limited="yes" if tr.get("stopped_by_time_limit") else "no",
        train_examples=tr.get("train_examples", "?"),
        max_length=cfg.model.max_length,
        chunking=cfg.model.chunking,
        generation=json.dumps(to_dict(cfg.generation), ensure_ascii=False),
        config=dump_yaml(cfg).rstrip(),
    )
    return text
