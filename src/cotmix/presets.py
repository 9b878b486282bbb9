"""Named configurations. A preset is a set of overrides on the defaults of `cotmix.config`.

    cotmix pretrain --preset quick --out runs/quick
    cotmix run --preset demo --out runs/demo
"""

from __future__ import annotations

from cotmix.errors import ConfigError

PRESETS: dict[str, dict] = {
    # Shows calibration after NTP in a few minutes on 2 CPU cores (d = 20, p_cot = 0.2); pre-training
    # stops once the chain is learnt (the default stopping rule).
    "quick": {"task": {"d": 20, "p_cot": 0.2}},
    # The headline experiment at CPU size: NTP until the chain is learnt (checked every 200 steps, capped
    # at 800), then 40 RL steps (enough at d = 20, p_cot = 0.25), beside an NTP-only baseline. All 40:
    # RL's stopping rule would end it once greedy is right, with most sampled answers still short,
    # and the demo shows the answers growing.
    "demo": {"task": {"d": 20, "p_cot": 0.25}, "pretrain": {"steps": 800, "eval_interval": 200, "ckpt_interval": 200},
             "posttrain": {"steps": 40, "stop_when": "none"}},
    # A few seconds end to end: a smoke test of the plumbing, for tests and for trying the CLI. Too
    # small to learn the chain, so it runs its 60 NTP steps (no stop rule to miss) and RL's preflight
    # warns that the chain is not learnt, which is true.
    "tiny": {
        "task": {"d": 6, "p_cot": 0.25},
        "model": {"d_model": 32, "n_head": 2},
        "pretrain": {"steps": 60, "stop_when": "none", "batch_size": 64, "eval_interval": 30, "ckpt_interval": 30, "log_interval": 10},
        "posttrain": {"steps": 4, "prompts_per_step": 16, "group_size": 4, "eval_interval": 2, "ckpt_interval": 2},
        "eval": {"n_prompts": 128, "pass_k_prompts": 16},
    },
}


def preset_overrides(name: str) -> dict:
    if name not in PRESETS:
        raise ConfigError(f"--preset {name!r}: unknown preset; available: {', '.join(sorted(PRESETS))}")
    return PRESETS[name]
