"""Model cards (``README.md``) from ``mlnews/templates/*_card.md``: classifier, its ONNX export, seq2seq summariser.

Cards start with Hugging Face YAML front matter (language, license, library_name, pipeline_tag,
base_model, tags, datasets, model-index with the test metrics). Every fact comes from this run: the
manifest's real input spec (prefix, layout, max_length), the epochs actually run, the test metrics;
paths are the folder's own name (cards hold no absolute paths). The usage snippets run as written
with plain ``transformers``, ``onnxruntime`` + ``tokenizers`` or ``skops`` from the folder's parent
(tests execute them). Templates use :class:`string.Template` placeholders (``$name``).
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any, Mapping

import yaml

from mlnews.config import to_dict

TEMPLATE = "classifier_card.md"
ONNX_TEMPLATE = "onnx_card.md"
LICENSE = "mit"  # the project's licence; the e5 base model is MIT too (docs/models.md)
#: mlnews aliases of pretrained encoders -> the Hugging Face id of the weights they hold.
BASE_MODEL_IDS = {"e5-small": "intfloat/multilingual-e5-small", "e5-small-ruuk": "intfloat/multilingual-e5-small"}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
LIBRARY = {"transformer": "transformers", "onnx": "onnx", "tfidf": "sklearn", "embedding": "transformers",
           "static": "sklearn"}


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


def shown_path(path: str | Path) -> str:
    """A model or dataset path for a card: as given when relative, else the folder's name."""
    p = Path(path)
    return p.as_posix() if not p.is_absolute() else p.name


def base_model_id(base_model: str | None) -> str | None:
    """The Hugging Face id for ``base_model`` (an mlnews alias or a hub id); None for local folders."""
    if not base_model:
        return None
    if base_model in BASE_MODEL_IDS:
        return BASE_MODEL_IDS[base_model]
    return base_model if _HUB_ID.match(base_model) and not Path(base_model).exists() else None


def front_matter(manifest: Mapping[str, Any], metrics: Mapping[str, Any], *, name: str, dataset: str,
                 extra_tags: tuple[str, ...] = ()) -> str:
    """HF model-card metadata (YAML, without the ``---`` fences)."""
    kind = manifest.get("kind")
    meta: dict[str, Any] = {"language": ["ru", "uk"], "license": LICENSE, "library_name": LIBRARY.get(kind, kind),
                            "pipeline_tag": "text-classification"}
    base = base_model_id(manifest.get("base_model"))
    if base:
        meta["base_model"] = base
    meta["tags"] = ["mlnews", "news", "topic-classification", kind, *extra_tags]
    meta["datasets"] = [dataset]
    meta["metrics"] = ["accuracy", "f1"]
    split = metrics.get("split", "test")
    meta["model-index"] = [{"name": name, "results": [{
        "task": {"type": "text-classification", "name": "Topic classification"},
        "dataset": {"name": dataset, "type": dataset, "split": split},
        "metrics": [{"type": "accuracy", "value": round(float(metrics["accuracy"]), 4), "name": f"{split} accuracy"},
                    {"type": "f1", "value": round(float(metrics["macro_f1"]), 4), "name": f"{split} macro-F1",
                     "args": {"average": "macro"}}],
    }]}]
    return yaml.safe_dump(meta, allow_unicode=True, sort_keys=False).strip()


def input_description(manifest: Mapping[str, Any]) -> str:
    inp = manifest.get("input", {})
    parts = "the headline (or article title)"
    if inp.get("use_lead"):
        parts += ", then the lead"
    if inp.get("body_chars", 0) > 0:
        parts += f", then the first {inp['body_chars']} characters of the body (cut back to a space)"
    text = f"One text per item: {parts}, joined with newlines"
    prefix = inp.get("prefix") or ""
    text += f", prefixed with `{prefix!r}`" if prefix else ", without a prefix"
    if manifest.get("kind") == "static":
        text += f"; at most {inp.get('max_length')} tokens, special tokens not added (longer inputs are truncated)"
    elif manifest.get("kind") != "tfidf":
        text += f"; at most {inp.get('max_length')} tokens (longer inputs are truncated; the tokenizer's " \
                f"`model_max_length` is {inp.get('max_length')} too)"
    text += ". The snippets below build exactly this input."
    if manifest.get("kind") == "transformer":
        text += (' With `pipeline("text-classification", model=FOLDER)`, pass `truncation=True`: transformers '
                 "does not truncate by default, and a text longer than the position embeddings fails.")
    return text


def _snippet(kind: str, manifest: Mapping[str, Any], model_path: str, pad_token: str | None) -> str:
    from mlnews.train import card_snippets

    inp = manifest.get("input", {})
    code = {"transformer": card_snippets.TRANSFORMERS, "onnx": card_snippets.ONNX, "tfidf": card_snippets.TFIDF,
            "embedding": card_snippets.EMBEDDING, "static": card_snippets.STATIC}[kind]
    return Template(code).substitute(
        model_path_repr=repr(model_path), prefix_repr=repr(inp.get("prefix") or ""),
        use_lead=bool(inp.get("use_lead", True)), body_chars=int(inp.get("body_chars", 0)),
        max_length=int(inp.get("max_length", 128)), pad_token_repr=repr(pad_token or "[PAD]"),
    )


def plain_usage(kind: str, manifest: Mapping[str, Any], model_path: str, pad_token: str | None = None) -> str:
    """The "without mlnews" section: a snippet that runs as written from the folder's parent."""
    lib = {"transformer": "plain `transformers` (+ torch)", "onnx": "plain `onnxruntime` + `tokenizers`",
           "tfidf": "plain `skops` + scikit-learn",
           "embedding": "plain `transformers` (+ torch) for the encoder and `skops` + scikit-learn for the head",
           "static": "plain `tokenizers` + numpy + `safetensors` for the table and `skops` + scikit-learn for the head",
           }[kind]
    return (f"Without mlnews, with {lib} (run it from the folder that holds `{model_path}`):\n\n"
            f"```python\n{_snippet(kind, manifest, model_path, pad_token).rstrip()}\n```")


def calibration_section(manifest: Mapping[str, Any], metrics: Mapping[str, Any]) -> str:
    """The card's "Calibration" section: the folder's temperature and ECE / NLL before and after it,
    on the split it was fitted on (validation) and on the scored split (``metrics``)."""
    cal = manifest.get("calibration")
    bins = (cal or {}).get("ece_bins", 15)
    ece_help = (f"ECE = expected calibration error of the top label ({bins} equal-width score bins; 0 means "
                "that in every bin the share of right predictions equals the mean score); NLL = mean negative "
                "log-likelihood of the gold label.")
    split = metrics.get("split", "test")
    if not cal:
        ece = metrics.get("ece")
        return ("Scores are the model's raw probabilities: no calibration was fitted (`train.calibrate: false`), "
                "so a score of 0.9 need not be right 90% of the time"
                + (f" ({split} ECE {_fmt(float(ece))}; {ece_help})" if ece is not None else "."))
    t = float(cal["temperature"])
    rows = [[f"{cal.get('fitted_on', 'validation')} (fitted on)", cal.get("rows", "-"),
             *[_fmt(cal[k]) if k in cal else "-" for k in ("ece_before", "ece_after", "nll_before", "nll_after")]]]
    if "ece" in metrics:
        before = metrics.get("ece_uncalibrated", metrics["ece"])
        nll_before = metrics.get("nll_uncalibrated", metrics.get("nll"))
        rows.append([split, metrics.get("n", "-"), _fmt(before), _fmt(metrics["ece"]),
                     _fmt(nll_before) if nll_before is not None else "-",
                     _fmt(metrics["nll"]) if "nll" in metrics else "-"])
    how = f" ({cal['note']})" if cal.get("note") else " (the T of minimum NLL)"
    return (f"Scores are calibrated probabilities: temperature scaling with T = {t:.3f}, fitted after training on "
            f"{cal.get('rows', '?')} rows of the {cal.get('fitted_on', 'validation')} split{how}, stored "
            "in `mlnews.json` (`calibration`) and applied by every mlnews backend (torch, ONNX, TF-IDF, "
            "`classify-dist`, `serve`, `review`): a score of 0.8 should be right about 80% of the time on data like "
            "the validation split, so `--min-score` means what it says. The top label, accuracy and macro-F1 are "
            "unchanged.\n\n"
            + md_table(["split", "rows", "ECE before", "ECE after", "NLL before", "NLL after"], rows)
            + f"\n\n{ece_help} Without mlnews, the calibrated scores are `softmax(logits / T)` of the model's "
            "logits, or `softmax(log(p) / T)` of its probabilities `p` (the snippet below prints the top labels, "
            "which calibration does not change).")


def _common_values(manifest: Mapping[str, Any], kind: str, model_path: str, pad_token: str | None) -> dict[str, Any]:
    """Template values every classifier card (torch, TF-IDF, ONNX) has."""
    return {
        "mlnews_version": manifest.get("mlnews_version"),
        "created": manifest.get("created"),
        "n_labels": len(manifest.get("labels", [])),
        "label_list": ", ".join(f"`{x}`" for x in manifest.get("labels", [])),
        "model_path": model_path,
        "input_description": input_description(manifest),
        "plain_usage": plain_usage(kind, manifest, model_path, pad_token),
    }


def render_classifier_card(
    manifest: Mapping[str, Any],
    cfg: Any,
    summary: Mapping[str, Any],
    report: Mapping[str, Any],
    metrics: Mapping[str, Any],
    training: Mapping[str, Any],
    model_dir: str = "MODEL_DIR",
    pad_token: str | None = None,
) -> str:
    """The model card text for a trained classifier (``model_dir`` as the user named it)."""
    text = resources.files("mlnews").joinpath("templates", TEMPLATE).read_text(encoding="utf-8")
    kind = manifest.get("kind")
    inp = manifest.get("input", {})
    model_path = shown_path(model_dir)
    dataset = shown_path(report.get("dataset", "?"))
    split_rows = [[role, s["n"]] for role, s in summary.items()]
    dropped = {role: r.get("dropped", {}) for role, r in report.get("splits", {}).items() if r.get("dropped")}
    val = training.get("validation") or {}
    cfg_d = to_dict(cfg)
    base = shown_path(manifest["base_model"]) if manifest.get("base_model") else None
    training_rows = [["kind", kind], ["base model", base or "-"],
                     ["training time (s)", training.get("train_seconds")]]
    if kind == "transformer":
        configured = cfg_d["train"].get("epochs")
        run = training.get("epochs")
        training_rows.append(["epochs run", f"{_fmt(run)} (configured {configured})" if run is not None else configured])
    for key in ("global_step", "train_loss", "best_validation_macro_f1"):
        if training.get(key) is not None:
            training_rows.append([key.replace("_", " "), _fmt(training[key])])
    dist = training.get("distill")
    if dist:  # a distilled student (mlnews.train.distill)
        unl = dist.get("unlabelled") or {}
        training_rows += [["distilled from (teacher)", shown_path(dist["teacher"])],
                          ["teacher layers kept", ", ".join(str(i) for i in dist["layers_kept"])],
                          ["soft-label rows (labelled + unlabelled)", f"{dist['labelled_rows']:,} + {unl.get('kept', 0):,}"],
                          ["distillation temperature / alpha", f"{dist['temperature']} / {dist['alpha']}"]]
        if dist.get("hidden_weight"):
            if dist.get("hidden_tokens") == "all":
                training_rows.append(["hidden-state loss weight (every shared token, per kept layer)",
                                      dist["hidden_weight"]])
            else:
                training_rows.append(["[CLS] state loss weight (Patient KD, per kept layer)", dist["hidden_weight"]])
        fid = dist.get("validation_fidelity")
        if fid:  # the student scored against its teacher's top labels (mlnews.train.distill.fidelity)
            groups = ["all", *(g for g in fid if g != "all")]
            names = " / ".join(groups)
            training_rows.append([f"validation agreement with the teacher ({names})",
                                  " / ".join(f"{fid[g]['agreement']:.3f}" for g in groups)])
            training_rows.append([f"validation fidelity macro-F1 (teacher labels as reference; {names})",
                                  " / ".join(f"{fid[g]['macro_f1']:.3f}" for g in groups)])
        sent = dist.get("sentences")
        if sent:
            langs = ", ".join(f"{g} {v['kept']:,} of {v['available']:,}" for g, v in sent["by_lang"].items())
            training_rows.append(["unlabelled body sentences (soft labels only)", f"{sent['added']:,} ({langs})"])
        files = dist.get("files")
        if files:
            langs = ", ".join(f"{g} {n:,}" for g, n in files["by_lang"].items()) or "none"
            leaks = files["same_as_validation_or_test"] + files["near_validation_or_test"]
            training_rows.append(["unlabelled file rows (soft labels only)",
                                  f"{files['kept']:,} of {files['read']:,} read ({langs}; {leaks:,} equal or near a "
                                  f"validation / test row left out)"])
        vocab = dist.get("vocab")
        if vocab:  # distill.prune_vocab
            training_rows.append(["student vocabulary (pruned to the training texts)",
                                  f"{vocab['pieces_after']:,} of {vocab['pieces_before']:,} pieces"])
    params = training.get("parameters")
    if params:
        training_rows.append(["parameters (trainable / total)", f"{params['trainable']:,} / {params['total']:,}"])
    training_rows += [["input prefix", repr(inp.get("prefix") or "")], ["max_length", inp.get("max_length")]
                      if kind != "tfidf" else ["max_length", "- (TF-IDF reads the whole input)"]]
    if kind == "tfidf":
        section = {**cfg_d.get("tfidf", {}), "class_weights": cfg_d["train"]["class_weights"]}
    elif kind in ("embedding", "static"):  # a frozen featuriser + the logistic-regression head
        applicable = to_dict(cfg, kind)
        section = {**{f"head.{k}": v for k, v in applicable.get("head", {}).items()},
                   **{f"{kind}.{k}": v for k, v in applicable.get(kind, {}).items()},
                   **applicable["train"]}
    else:
        model_keys = {k: v for k, v in cfg_d["model"].items() if k not in ("kind", "name_or_path", "input_prefix",
                                                                            "max_length")}
        section = {**model_keys, **{k: v for k, v in cfg_d["train"].items() if k != "epochs"}}
    training_rows += [[k, "default" if v is None else v] for k, v in section.items()
                      if not isinstance(v, str) or not Path(v).is_absolute()]
    values = {
        "front_matter": front_matter(manifest, metrics, name=Path(model_path).name, dataset=Path(dataset).name),
        "kind": kind,
        "base_model": base or "word + char n-grams",
        "description": getattr(cfg, "description", "") or "",
        **_common_values(manifest, kind, model_path, pad_token),
        "dataset": dataset,
        "taxonomy": manifest.get("taxonomy") or "-",
        "data_table": md_table(["split", "rows"], split_rows) + "\n\n" + _counts_table(summary, "lang", "language")
        + "\n\n" + _counts_table(summary, "source", "source"),
        "origin_table": _counts_table(summary, "label_origin", "label origin"),
        "label_table": _counts_table(summary, "label", "label"),
        "dropped": ", ".join(f"{role}: {d}" for role, d in dropped.items()) or "none",
        "split": metrics.get("split", "test"),
        "test_accuracy": _fmt(float(metrics["accuracy"])),
        "test_macro_f1": _fmt(float(metrics["macro_f1"])),
        "test_n": metrics["n"],
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
        "calibration": calibration_section(manifest, metrics),
        "length_limit": (f", and on texts much longer than the training inputs (inputs are truncated to "
                         f"{inp.get('max_length')} tokens)") if kind != "tfidf" else "",
    }
    return Template(text).substitute(values)


def render_onnx_card(manifest: Mapping[str, Any], metrics: Mapping[str, Any], *, model_dir: str, source_dir: str,
                     pad_token: str | None = None) -> str:
    """The card of an ONNX export: its own facts (opset, weights, agreement with torch) and snippets.

    ``metrics`` are the source model's test metrics (copied ``metrics.json``), stated as such.
    """
    text = resources.files("mlnews").joinpath("templates", ONNX_TEMPLATE).read_text(encoding="utf-8")
    onnx = manifest.get("onnx", {})
    check = onnx.get("check", {})
    model_path, source = shown_path(model_dir), shown_path(source_dir)
    dataset = shown_path(metrics.get("dataset") or metrics.get("data") or "?")
    int8 = bool(onnx.get("int8"))
    values = {
        "front_matter": front_matter(manifest, metrics, name=Path(model_path).name, dataset=Path(dataset).name,
                                     extra_tags=("int8",) if int8 else ()),
        "base_model": shown_path(manifest["base_model"]) if manifest.get("base_model") else "-",
        "source": source,
        "weights": "int8 (ONNX Runtime dynamic quantisation, per channel)" if int8 else "fp32",
        "opset": onnx.get("opset", "-"),
        **_common_values(manifest, "onnx", model_path, pad_token),
        "split": metrics.get("split", "test"),
        "test_accuracy": _fmt(float(metrics["accuracy"])),
        "test_macro_f1": _fmt(float(metrics["macro_f1"])),
        "test_n": metrics.get("n", "-"),
        "check_texts": check.get("texts", "-"),
        "check_agreement": f"{check['top1_agreement']:.0%}" if "top1_agreement" in check else "-",
        "check_diff": _fmt(float(check["max_abs_prob_diff"])) if "max_abs_prob_diff" in check else "-",
        "max_length": manifest.get("input", {}).get("max_length"),
        "calibration": calibration_section(manifest, metrics),
    }
    return Template(text).substitute(values)


def _no_absolute_paths(obj: Any) -> Any:
    """A config mapping with every absolute path replaced by its last component (cards are shared)."""
    if isinstance(obj, dict):
        return {k: _no_absolute_paths(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_no_absolute_paths(v) for v in obj]
    return shown_path(obj) if isinstance(obj, str) and obj.startswith("/") else obj


def render_summariser_card(name: str, cfg: Any, base: str, metrics: Mapping[str, Any]) -> str:
    """The model card text for a trained seq2seq summariser (``templates/summariser_card.md``)."""
    template = Template(resources.files("mlnews").joinpath("templates", "summariser_card.md").read_text(encoding="utf-8"))
    rows = [("all", metrics)] + sorted(metrics.get("per_lang", {}).items())
    table = "\n".join(
        f"| {name} | {m['n']} | {m['rouge1']:.1f} | {m['rouge2']:.1f} | {m['rougeL']:.1f} | {m['chrf']:.1f} |"
        for name, m in rows
    ) if "rouge1" in metrics else f"| not evaluated: {metrics.get('not_evaluated', '?')} | | | | | |"
    tr = metrics.get("training", {})
    meta: dict[str, Any] = {"language": ["ru", "uk"], "license": LICENSE, "library_name": "transformers",
                            "pipeline_tag": "summarization" if cfg.target.field == "lead" else "text2text-generation"}
    if base_model_id(base):
        meta["base_model"] = base_model_id(base)
    meta["tags"] = ["mlnews", "news", "summarization", "seq2seq"]
    meta["datasets"] = [Path(shown_path(cfg.data.path)).name]
    if "rouge1" in metrics:
        split = metrics.get("split", cfg.data.test_split)
        meta["model-index"] = [{"name": name, "results": [{
            "task": {"type": "summarization", "name": f"{cfg.target.field} generation"},
            "dataset": {"name": meta["datasets"][0], "type": meta["datasets"][0], "split": split},
            "metrics": [{"type": k, "value": round(float(metrics[k]), 2), "name": f"{split} {k} (%)"}
                        for k in ("rouge1", "rouge2", "rougeL", "chrf")],
        }]}]
    text = template.substitute(
        front_matter=yaml.safe_dump(meta, allow_unicode=True, sort_keys=False).strip(),
        name=name,
        description=cfg.description or "(no description in the config)",
        base=shown_path(base),
        target=cfg.target.field,
        data=shown_path(cfg.data.path),
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
        config=yaml.safe_dump(_no_absolute_paths(to_dict(cfg, cfg.model.kind)), allow_unicode=True,
                              sort_keys=False).rstrip(),
    )
    return text
