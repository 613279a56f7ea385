#!/bin/sh
# Rendered by deploykit 0.1.0 (command): llama-3.1-405b (fp8) on 8 x h100-sxm with vllm: TP8 PP1 DP1, context 32768, 199 sequences, KV auto
# Re-render instead of editing: deploykit render llama-3.1-405b --profile h100-sxm --gpus 8 --engine vllm --quant fp8 --context 32768 --host 0.0.0.0 --fallback openai/gpt-4.1-mini --fallback http://10.0.0.7:8000/v1 --target command
# Runs vLLM 0.32.0 natively. The Hugging Face token, when the model is gated, comes from HF_TOKEN in
# the environment; clients must send the key that vLLM reads from VLLM_API_KEY.
set -eu
: "${VLLM_API_KEY:?set VLLM_API_KEY to the API key clients must send}"
exec vllm serve meta-llama/Llama-3.1-405B-Instruct-FP8 --served-model-name llama-3.1-405b --tensor-parallel-size 8 --max-model-len 32768 --max-num-seqs 199 --max-num-batched-tokens 8192 --gpu-memory-utilization 0.9 --enable-auto-tool-choice --tool-call-parser llama3_json --host 0.0.0.0 --port 8000
