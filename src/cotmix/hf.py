"""cotmix models and tasks as Hugging Face objects: the one home of the weight mapping.

`hf_model` builds transformers' own GPT2LMHeadModel or LlamaForCausalLM with a cotmix model's weights
(logits equal, tested); `task_tokenizer` is a fast tokenizer whose ids are the task's token ids and
which reads the text `cotmix sample` prints, one token per character (`0`, `1`, `=`; digits, `*`,
`;` for multiplication) with `<eos>` and `<pad>` as its special tokens. `cotmix export` saves both
as a model folder that transformers, TRL and vLLM load without cotmix; `make bench` runs them as
the peer it measures against.
"""

from __future__ import annotations

import torch

from cotmix.model.transformer import Transformer
from cotmix.tasks import Task

EOS_TEXT, PAD_TEXT = "<eos>", "<pad>"


def quiet_transformers() -> None:
    """No per-file progress bars from transformers ("Loading weights", "Writing model shards"): a
    tiny model loads in milliseconds, and the bars would land between cotmix's own lines."""
    from transformers.utils import logging

    logging.disable_progress_bar()


def hf_model(model: Transformer, eos_id: int, pad_id: int):
    """The transformers model of the same architecture with cotmix's weights copied in (logits equal)."""
    cfg = model.cfg
    hidden = int(cfg.mlp_ratio * cfg.d_model)
    sd = model.state_dict()
    if cfg.flavour == "gpt2":
        from transformers import GPT2Config, GPT2LMHeadModel

        hf = GPT2LMHeadModel(GPT2Config(
            vocab_size=model.vocab_size, n_positions=model.max_seq_len, n_embd=cfg.d_model, n_layer=cfg.n_layer,
            n_head=cfg.n_head, n_inner=hidden, activation_function="gelu", resid_pdrop=0.0, embd_pdrop=0.0,
            attn_pdrop=0.0, layer_norm_epsilon=1e-5, tie_word_embeddings=False, eos_token_id=eos_id, pad_token_id=pad_id,
            bos_token_id=eos_id, attn_implementation="sdpa"))
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
            tie_word_embeddings=False, eos_token_id=eos_id, pad_token_id=pad_id, bos_token_id=eos_id,
            attn_implementation="sdpa"))
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
    hf.generation_config.eos_token_id, hf.generation_config.pad_token_id = eos_id, pad_id
    return hf


def token_texts(task: Task) -> dict[int, str]:
    """Token id -> its text: the task's own characters, and <eos> / <pad> for its special tokens."""
    texts = dict(task.token_text)
    texts[task.eos_id], texts[task.pad_id] = EOS_TEXT, PAD_TEXT
    return texts


def task_tokenizer(task: Task):
    """A fast tokenizer with the task's ids: one token per character, <eos> and <pad> special."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {text: token for token, text in token_texts(task).items()}
    core = Tokenizer(models.WordLevel(vocab, unk_token=PAD_TEXT))
    core.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    core.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token=EOS_TEXT, pad_token=PAD_TEXT)
    tokenizer.padding_side = "left"  # generation pads prompts on the left
    return tokenizer


def prompt_text(task: Task, prompt: torch.Tensor) -> str:
    """A prompt's tokens as the tokenizer reads them (parity: the bits, then `=`)."""
    texts = token_texts(task)
    return "".join(texts[int(t)] for t in prompt)


def model_card(task: Task, source) -> str:
    """README.md of an exported model folder: where it came from and how to prompt it."""
    texts = token_texts(task)
    prompt_text = "".join(texts[t] for t in task.heldout_prompts(1, 0)[0].tolist())
    return (f"# cotmix model: {type(task).__name__}\n\nExported by `cotmix export` from `{source}`.\n\n"
            f"A prompt is the input, one token per character, e.g. `{prompt_text}`; the model "
            f"answers with the short answer or the worked chain, then `{EOS_TEXT}`. Decode up to "
            f"{task.long_response_len} new tokens:\n\n```python\nfrom transformers import AutoModelForCausalLM, "
            "AutoTokenizer\nmodel = AutoModelForCausalLM.from_pretrained(FOLDER)\ntokenizer = "
            f"AutoTokenizer.from_pretrained(FOLDER)\nids = tokenizer(\"{prompt_text}\", return_tensors=\"pt\").input_ids\n"
            f"print(tokenizer.decode(model.generate(ids, max_new_tokens={task.long_response_len}, do_sample=False)"
            "[0, ids.shape[1]:]))\n```\n")
