"""The peers `make bench` measures cotmix against, on the same weights: Hugging Face
transformers' own GPT-2 / Llama models (ported from a cotmix model, logits equal), a word-level
tokenizer for the parity vocabulary, and TRL's GRPOTrainer on that model.

Needs the `bench` extra (transformers, trl); the core never imports this module.
"""

from __future__ import annotations

import time

import torch

from cotmix.model import Transformer
from cotmix.tasks.parity import TOKEN_TEXT


def hf_model(model: Transformer):
    """The transformers model of the same architecture with cotmix's weights copied in."""
    cfg = model.cfg
    hidden = int(cfg.mlp_ratio * cfg.d_model)
    sd = model.state_dict()
    if cfg.flavour == "gpt2":
        from transformers import GPT2Config, GPT2LMHeadModel

        hf = GPT2LMHeadModel(GPT2Config(
            vocab_size=model.vocab_size, n_positions=model.max_seq_len, n_embd=cfg.d_model, n_layer=cfg.n_layer,
            n_head=cfg.n_head, n_inner=hidden, activation_function="gelu", resid_pdrop=0.0, embd_pdrop=0.0,
            attn_pdrop=0.0, layer_norm_epsilon=1e-5, tie_word_embeddings=False, eos_token_id=3, pad_token_id=4,
            bos_token_id=3, attn_implementation="sdpa"))
        out = {"transformer.wte.weight": sd["embed.weight"], "transformer.wpe.weight": sd["pos_embed.weight"],
               "transformer.ln_f.weight": sd["norm_f.weight"], "transformer.ln_f.bias": sd["norm_f.bias"],
               "lm_head.weight": sd["lm_head.weight"]}
        for i in range(cfg.n_layer):
            ours, theirs = f"blocks.{i}.", f"transformer.h.{i}."
            for a, b in (("norm1", "ln_1"), ("norm2", "ln_2")):
                out[f"{theirs}{b}.weight"], out[f"{theirs}{b}.bias"] = sd[f"{ours}{a}.weight"], sd[f"{ours}{a}.bias"]
            for a, b in (("attn.qkv", "attn.c_attn"), ("attn.proj", "attn.c_proj"), ("mlp.up", "mlp.c_fc"),
                         ("mlp.down", "mlp.c_proj")):
                out[f"{theirs}{b}.weight"] = sd[f"{ours}{a}.weight"].t()  # HF's Conv1D stores (in, out)
                out[f"{theirs}{b}.bias"] = sd[f"{ours}{a}.bias"]
    else:
        from transformers import LlamaConfig, LlamaForCausalLM

        hf = LlamaForCausalLM(LlamaConfig(
            vocab_size=model.vocab_size, hidden_size=cfg.d_model, intermediate_size=hidden,
            num_hidden_layers=cfg.n_layer, num_attention_heads=cfg.n_head, num_key_value_heads=cfg.n_head,
            max_position_embeddings=model.max_seq_len, rms_norm_eps=1e-6, attention_bias=False, mlp_bias=False,
            tie_word_embeddings=False, eos_token_id=3, pad_token_id=4, bos_token_id=3, attn_implementation="sdpa"))
        d = cfg.d_model
        out = {"model.embed_tokens.weight": sd["embed.weight"], "model.norm.weight": sd["norm_f.weight"],
               "lm_head.weight": sd["lm_head.weight"]}
        for i in range(cfg.n_layer):
            ours, theirs = f"blocks.{i}.", f"model.layers.{i}."
            qkv, up = sd[f"{ours}attn.qkv.weight"], sd[f"{ours}mlp.up.weight"]
            out.update({
                f"{theirs}input_layernorm.weight": sd[f"{ours}norm1.weight"],
                f"{theirs}post_attention_layernorm.weight": sd[f"{ours}norm2.weight"],
                f"{theirs}self_attn.q_proj.weight": qkv[:d], f"{theirs}self_attn.k_proj.weight": qkv[d : 2 * d],
                f"{theirs}self_attn.v_proj.weight": qkv[2 * d :], f"{theirs}self_attn.o_proj.weight": sd[f"{ours}attn.proj.weight"],
                f"{theirs}mlp.gate_proj.weight": up[:hidden], f"{theirs}mlp.up_proj.weight": up[hidden:],
                f"{theirs}mlp.down_proj.weight": sd[f"{ours}mlp.down.weight"]})
    hf.load_state_dict({k: v.clone() for k, v in out.items()}, strict=True)
    hf.generation_config.eos_token_id, hf.generation_config.pad_token_id = 3, 4
    return hf


def parity_tokenizer():
    """A fast word-level tokenizer whose ids are cotmix's parity token ids (text: space-separated)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"0": 0, "1": 1, "=": 2, "<eos>": 3, "<pad>": 4}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<pad>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<eos>", pad_token="<pad>")
    tok.padding_side = "left"
    return tok


def prompt_text(prompt: torch.Tensor) -> str:
    return " ".join(TOKEN_TEXT[int(t)] for t in prompt)


def trl_grpo_step_seconds(hf, task, prompts_per_step: int, group_size: int, lr: float, steps: int = 3,
                          workdir: str = "/tmp/cotmix-trl", use_cpu: bool = True) -> float:
    """Median seconds of one TRL GRPOTrainer step (generate, score, update) after the first,
    on `prompts_per_step` prompts x `group_size` completions, settings matched to cotmix's GRPO."""
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    gen = torch.Generator().manual_seed(0)
    prompts = task.sample(prompts_per_step * steps * 2, gen).prompts
    data = Dataset.from_dict({"prompt": [prompt_text(p) for p in prompts], "row": list(range(len(prompts)))})
    tokenizer = parity_tokenizer()

    def reward(prompts, completions, completion_ids, row, **_):
        """The task's chain reward on TRL's completion token ids (the dataset's `row` finds the prompt)."""
        ids = torch.full((len(completion_ids), task.long_response_len), task.pad_id)
        for i, completion in enumerate(completion_ids):
            kept = list(completion)[: task.long_response_len]
            ids[i, : len(kept)] = torch.tensor(kept, dtype=torch.long)
        return task.reward(all_prompts[torch.tensor(row)], ids, "chain").tolist()

    all_prompts = prompts
    args = GRPOConfig(output_dir=workdir, per_device_train_batch_size=prompts_per_step * group_size,
                      num_generations=group_size, max_completion_length=task.long_response_len, learning_rate=lr,
                      max_steps=steps, num_iterations=1, beta=0.0, loss_type="dapo", temperature=1.0, use_cpu=use_cpu,
                      bf16=False, report_to="none", logging_steps=1000, save_strategy="no",
                      gradient_checkpointing=False, disable_dropout=True, seed=0)
    times: list[float] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, *_, **__):
            self.start = time.perf_counter()

        def on_step_end(self, *_, **__):
            times.append(time.perf_counter() - self.start)

    trainer = GRPOTrainer(model=hf, reward_funcs=reward, args=args, train_dataset=data, processing_class=tokenizer,
                          callbacks=[Clock()])
    trainer.train()
    later = sorted(times[1:] or times)
    return later[len(later) // 2]
