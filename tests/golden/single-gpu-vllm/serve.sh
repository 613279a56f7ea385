#!/bin/sh
# Rendered by deploykit 0.1.0 (command): llama-3.1-8b (bf16) on 1 x h100-sxm with vllm: TP1 PP1 DP1, context 32768, 256 sequences, KV auto
# Re-render instead of editing: deploykit render llama-3.1-8b --profile h100-sxm --gpus 1 --engine vllm --quant bf16 --context 32768 --target command
# Runs vLLM 0.32.0 natively. The Hugging Face token, when the model is gated, comes from HF_TOKEN in
# the environment.
set -eu
exec vllm serve meta-llama/Llama-3.1-8B-Instruct --served-model-name llama-3.1-8b --max-model-len 32768 --max-num-seqs 256 --max-num-batched-tokens 8192 --gpu-memory-utilization 0.9 --enable-auto-tool-choice --tool-call-parser llama3_json --host 127.0.0.1 --port 8000
