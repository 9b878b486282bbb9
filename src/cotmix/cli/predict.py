"""`cotmix predict`: what RL will do, said before it runs, and checked against runs that did.

    cotmix predict CHECKPOINT [posttrain.key=value ...] [--json]   one starting model, one RL config
    cotmix predict --replay DIR [--json]                          every run under DIR: predicted vs observed

A checkpoint (or a run directory: its pre-trained model) is evaluated on its validation inputs, and
cotmix.rl.predict turns those measurements and the RL config into a prediction. --replay reads each
run's first RL evaluation (where RL started) instead, predicts from it, and compares with the run's
final greedy accuracy; runs from before the validation split predict from their test metrics, and
the table says so.
"""

from __future__ import annotations

import json
from pathlib import Path

from cotmix.errors import CotmixError


def cmd_predict(args) -> int:
    if bool(args.checkpoint) == bool(args.replay):
        raise CotmixError("predict: give a CHECKPOINT, or --replay DIR (not both)")
    if args.replay:
        from cotmix.experiments.replay import format_replay, replay

        table = replay(Path(args.replay))
        print(json.dumps(table, indent=2) if args.json else format_replay(table))
        return 0
    from cotmix import api
    from cotmix.loops.posttrain import posttrain_config
    from cotmix.rl.predict import predict
    from cotmix.train.checkpoint import load_checkpoint, resolve_checkpoint

    ckpt = load_checkpoint(resolve_checkpoint(args.checkpoint, "pretrain"))
    cfg = posttrain_config(ckpt.config, args.overrides)
    validation = api.evaluate(ckpt.path, [o for o in args.overrides if o.startswith(("eval.", "threads", "device"))],
                              split="validation")
    prediction = predict(cfg, validation)
    if args.json:
        print(json.dumps(prediction, indent=2))
        return 0
    ntp = prediction["ntp_alone"]
    print(f"{ckpt.path}: measured on {validation['n_prompts']} validation prompts")
    print(f"  long fraction {prediction['long_fraction']:.3f}, chain exact {prediction['chain_exact_accuracy']:.3f}, "
          f"short accuracy {prediction['short_accuracy']:.3f}")
    print(f"  NTP alone: greedy {ntp['greedy']} ({ntp['reason']})")
    print(f"  RL ({cfg.posttrain.algorithm}, {cfg.posttrain.reward} reward, {cfg.posttrain.steps} steps): generalises: "
          f"{prediction['generalises']} ({prediction['reason']})")
    if "star" in prediction:
        star = prediction["star"]
        print(f"  STaR: long share past the threshold in round {star['round_past_threshold']}, greedy right from round "
              f"{star['round_greedy_right']}")
    else:
        print(f"  groups with one reward (no gradient): {prediction['zero_std_share']:.3f} expected at the start")
    steps = prediction["steps"]
    unit = "rounds" if "star" in prediction else "steps"
    print(f"  {unit} to greedy >= 0.99: " + ("none within the model's reach" if steps is None else f"about {steps:.0f}")
          + " (cotmix.rl.predict; within a factor of 2 is the goal)")
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("predict", help="predict what RL will do from a checkpoint's calibration, or replay the "
                                       "prediction against finished runs")
    p.add_argument("checkpoint", nargs="?", metavar="CHECKPOINT", help="checkpoint or run directory (its NTP model)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="the RL config to predict for, e.g. "
                                                                      "posttrain.algorithm=star")
    p.add_argument("--replay", metavar="DIR", help="every run under DIR: prediction from its start of RL vs outcome")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_predict)
