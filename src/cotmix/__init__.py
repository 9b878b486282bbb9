"""cotmix: how RL after next-token prediction lets autoregressive models learn what NTP alone cannot.

The pipeline, one package per stage, each importing only the ones above it (tests/test_layout.py
checks it):

    tasks/        parity, multiplication and digit-sum mixtures of long and short demonstrations; the held-out split
    model/        the transformer, its KV-cache sampler, length buckets, device placement
    eval/         held-out metrics with their intervals
    train/        what both training loops share: the NTP loss, optimizer, checkpoints, phase bookkeeping
    rl/           advantage estimators and losses, rewards, the algorithms (STaR, REINFORCE, RLOO, GRPO, ...),
                  the predictor of RL's outcome
    loops/        the two training loops side by side: pretrain (NTP) and posttrain (RL)
    experiments/  the pipeline of `cotmix run`, built-in studies, the sweep runner, results and the report
    cli/          the `cotmix` command, one module per command group

Beside them: theory/ (the paper's linear model and closed forms), bench/ (speed against Hugging Face),
llm/ (pretrained LMs through TRL). The modules at the top (config, options, registry, errors, files,
rundir, rng, plotting, ...) sit under all of it.
"""

__version__ = "0.2.0"

# The Python API (cotmix.api), imported on first use so that `import cotmix` and the CLI's parser stay
# free of torch: cotmix.load_config, pretrain, posttrain, run, evaluate, load_results.
API = ("load_config", "pretrain", "posttrain", "run", "evaluate", "load_results")


def __getattr__(name: str):
    if name in API:
        from cotmix import api

        return getattr(api, name)
    raise AttributeError(f"module 'cotmix' has no attribute {name!r}")


__all__ = [*API, "__version__"]
