"""The model stage: `transformer` (GPT-2 and Llama flavours), `sampler` (batched KV-cache decoding),
`buckets` (running padded rows without their padding), `device` (where a run computes)."""
