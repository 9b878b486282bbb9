"""The benchmark's peers are the same model (ported weights give equal logits), and the whole
benchmark runs on a tiny shape. Timings are never asserted."""

import pytest
import torch

# The bench extra (transformers, trl) is installed by `make test`: an ImportError here is a real failure.
from cotmix.bench.measure import format_bench, run_bench  # noqa: E402
from cotmix.bench.size import TINY  # noqa: E402
from cotmix.config import load_config
from cotmix.hf import hf_model, task_tokenizer  # noqa: E402
from cotmix.model.transformer import build_model
from cotmix.tasks import make_task


@pytest.mark.parametrize("flavour", ["gpt2", "llama"])
def test_ported_hf_model_computes_the_same_logits(flavour):
    cfg = load_config(overrides=[f"model.flavour={flavour}", "task.d=8", "model.d_model=32", "model.n_head=4"])
    task = make_task(cfg.task)
    torch.manual_seed(0)
    ours = build_model(cfg.model, task).eval()
    theirs = hf_model(ours, task.eos_id, task.pad_id).eval()
    idx = torch.randint(0, 5, (3, 14))
    with torch.no_grad():
        assert torch.allclose(ours(idx), theirs(idx, attention_mask=torch.ones_like(idx)).logits, atol=1e-5)
        ours.lm_head.weight.mul_(2.0)  # the port copied the weights, it does not share them
        assert not torch.allclose(ours(idx), theirs(idx, attention_mask=torch.ones_like(idx)).logits, atol=1e-3)


def test_tokenizer_ids_are_the_task_ids():
    from cotmix.tasks import MultiplicationTask, ParityTask

    tok = task_tokenizer(ParityTask(d=3, p_cot=0.5))
    assert tok("011=10<eos>")["input_ids"] == [0, 1, 1, 2, 1, 0, 3]
    assert tok.eos_token_id == 3 and tok.pad_token_id == 4
    assert tok.decode([1, 1, 0, 3]) == "110<eos>"
    times = task_tokenizer(MultiplicationTask(2, 2, p_cot=0.5))
    assert times("21*43=8040;")["input_ids"] == [2, 1, 10, 4, 3, 11, 8, 0, 4, 0, 12]


def test_tiny_benchmark_runs_and_reports_every_ratio(tmp_path):
    result = run_bench(TINY, flavours=("gpt2",), progress=lambda _: None)
    assert result["train_gpt2"]["hf"]["tokens_per_s"] > 0 and result["train_gpt2"]["cotmix"]["tokens_per_s"] > 0
    assert result["train_gpt2"]["hf_same_loss"]["tokens_per_s"] > 0 and result["train_gpt2"]["cotmix_bf16"]["step_s"] > 0
    assert result["sample_gpt2"]["hf"]["tokens_per_s"] > 0 and result["sample_gpt2_pretrained"]["hf"]["tokens_per_s"] > 0
    assert result["rl_step"]["trl"]["step_s"] > 0 and result["rl_step"]["cotmix"]["step_s"] > 0
    assert [row["d"] for row in result["scaling"]] == list(TINY.scaling_d)
    assert result["peak_flop_per_s"]["fp32"] > 0
    table = format_bench(result)
    assert "NTP train tok/s (gpt2 vs HF)" in table and "same loss code" in table and "bf16 autocast" in table and "GRPO step s, pre-trained (vs TRL)" in table and "from the pre-trained model" in table
