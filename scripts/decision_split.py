"""Greedy's stop-or-continue decision on held-out prompts, split by the chain token that comes next.

Where long and short answers part (parity: after the first answer token x_1), greedy decoding
continues when its most likely token is not EOS (the eval's decision_greedy_continue). A calibrated
model has P(continue) = 2p/(1+p), a margin over 1/2 of (3p-1)/(2(1+p)): under 0.01 at p_cot = 0.34.
A small bias of the model towards one token value can then decide the outcome, separately for the
prompts whose next chain token is 0 and is 1.
    python scripts/decision_split.py CHECKPOINT_DIR...
"""
import sys

import torch

from cotmix.eval.evaluate import chain_token_metrics
from cotmix.model.transformer import build_model
from cotmix.tasks import make_task
from cotmix.tasks.base import Batch
from cotmix.train.checkpoint import load_checkpoint


@torch.no_grad()
def decision_split(path: str) -> str:
    ckpt = load_checkpoint(path)
    cfg = ckpt.config
    task = make_task(cfg.task)
    model = build_model(cfg.model, task)
    ckpt.load_model(model)
    model.eval()
    batch = task.long_demonstrations(task.heldout_prompts(cfg.eval.n_prompts, cfg.eval.seed))
    nxt = batch.responses[:, task.decision_position]  # (rows,) the right next chain token
    p = cfg.task.p_cot
    overall = chain_token_metrics(model, task, batch)["decision_greedy_continue"]
    parts = [(f"{path}: p_cot {p}, calibrated P(continue) {2 * p / (1 + p):.3f}, "
              f"greedy continues on {overall:.3f} of {len(nxt)}")]
    for value in nxt.unique().tolist():
        rows = nxt == value
        m = chain_token_metrics(model, task, Batch(batch.prompts[rows], batch.responses[rows], batch.is_long[rows]))
        parts.append(f"  next token {value}: {int(rows.sum())} prompts, P(next) {m['decision_chain_prob']:.3f}, "
                     f"P(EOS) {m['decision_eos_prob']:.3f}, continue {m['decision_greedy_continue']:.3f}")
    return "\n".join(parts)


if __name__ == "__main__":
    torch.set_num_threads(1)
    for checkpoint in sys.argv[1:]:
        print(decision_split(checkpoint))
