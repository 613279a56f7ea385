#!/bin/sh
# Rendered by deploykit 0.1.0 (command): qwen2.5-7b (gguf-q8_0) on 1 x rtx-4090 with ollama: 28/28 layers on GPU, context 8192, 4 sequences, KV auto
# Re-render instead of editing: deploykit render qwen2.5-7b --profile rtx-4090 --gpus 1 --engine ollama --quant gguf-q8_0 --context 8192 --gpu-ids 1 --target command
# Against the Ollama server at http://127.0.0.1:11434: pull the weights, create the planned model, load it and keep it
# loaded. The server itself must run with the settings below (systemd: the deploykit drop-in; macOS: launchctl).
set -eu
export OLLAMA_HOST=http://127.0.0.1:11434
ollama pull hf.co/bartowski/Qwen2.5-7B-Instruct-GGUF:Q8_0
ollama create qwen2.5-7b -f "$(dirname "$0")/Modelfile"
curl -fsS "$OLLAMA_HOST/api/generate" -d '{"model": "qwen2.5-7b", "keep_alive": -1}' >/dev/null
echo "ready: ${OLLAMA_HOST}/v1 serves qwen2.5-7b; try it: ollama run qwen2.5-7b 'Hello'"
