"""`cotmix export` and `cotmix data`: cotmix's models and data in the formats the ecosystem reads.

    cotmix export RUN_OR_CHECKPOINT --out DIR      a Hugging Face model folder with its tokenizer
    cotmix data [--preset NAME] [key=value ...] --out DIR [--train-samples N] [--format parquet|jsonl]

The exported folder loads with `AutoModelForCausalLM.from_pretrained(DIR)` and
`AutoTokenizer.from_pretrained(DIR)` and no cotmix import; its greedy `generate` writes what
`cotmix sample --temperature 0` writes (tested for both flavours).
"""

from __future__ import annotations

from pathlib import Path

from cotmix.api import arm_phases
from cotmix.cli.common import add_arm_arg, add_config_args
from cotmix.config import load_config
from cotmix.errors import CotmixError
from cotmix.files import atomic_dir, check_output_path


def cmd_export(args) -> int:
    try:
        import transformers  # noqa: F401
    except ImportError:
        raise CotmixError("cotmix export needs transformers: pip install -e '.[llm]'") from None
    from transformers import GenerationConfig

    from cotmix.hf import hf_model, model_card, quiet_transformers, task_tokenizer
    from cotmix.model.transformer import build_model
    from cotmix.tasks import make_task
    from cotmix.train.checkpoint import load_checkpoint, resolve_checkpoint

    quiet_transformers()
    ckpt = load_checkpoint(resolve_checkpoint(args.checkpoint, arm_phases(args.arm)))
    out = check_new_dir(Path(args.out))
    task = make_task(ckpt.config.task)
    model = build_model(ckpt.config.model, task)
    ckpt.load_model(model)
    hf = hf_model(model.eval(), task.eos_id, task.pad_id)
    hf.generation_config = GenerationConfig(eos_token_id=task.eos_id, pad_token_id=task.pad_id, bos_token_id=task.eos_id,
                                            max_new_tokens=task.long_response_len, do_sample=False)
    with atomic_dir(out) as tmp:  # a failure (a full disk) leaves no folder behind
        hf.save_pretrained(tmp)
        task_tokenizer(task).save_pretrained(tmp)
        (tmp / "README.md").write_text(model_card(task, ckpt.path))
    print(f"wrote {out}: {type(hf).__name__} ({model.num_params():,} parameters) from {ckpt.path}, and its tokenizer")
    return 0


def check_new_dir(out: Path) -> Path:
    """An --out for a folder this command creates whole: new, or an empty folder (not a link)."""
    check_output_path(out, "--out")
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        raise CotmixError(f"--out {out}: already exists and is not an empty folder; choose a new --out")
    if out.exists():
        out.rmdir()  # empty: the finished folder is renamed into its place
    return out


def cmd_data(args) -> int:
    from cotmix.dataset import FORMATS, check_dataset_size, write_dataset

    cfg = load_config(args.preset, args.config, args.overrides)
    if args.train_samples < 1 or args.format not in FORMATS:
        raise CotmixError(f"--train-samples {args.train_samples} --format {args.format}: need >= 1 sample and a "
                          f"format among {', '.join(FORMATS)}")
    check_dataset_size(cfg, args.train_samples)
    out = check_new_dir(Path(args.out))
    with atomic_dir(out) as tmp:
        counts = write_dataset(cfg, tmp, args.train_samples, args.format)
    for name, c in counts.items():
        print(f"{Path(args.out) / f'{name}.{args.format}'}: {c['rows']:,} rows, long fraction {c['long_fraction']:.3f}")
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("export", help="a run's model as a Hugging Face model folder, with its tokenizer")
    p.add_argument("checkpoint", metavar="RUN_OR_CHECKPOINT",
                   help="checkpoint directory, or run directory (its model by --arm)")
    add_arm_arg(p)
    p.add_argument("--out", required=True, help="new directory for the model folder")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("data", help="the task's D(p_cot) mixture as Parquet or JSONL (training and held-out splits)")
    add_config_args(p)
    p.add_argument("--out", required=True, help="new directory for train.FORMAT and heldout.FORMAT")
    p.add_argument("--train-samples", type=int, default=100_000,
                   help="training rows: the start of cotmix's pre-training stream for this config")
    p.add_argument("--format", default="parquet", help="parquet or jsonl")
    p.set_defaults(func=cmd_data)
