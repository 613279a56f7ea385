#!/bin/sh
# Rendered by deploykit 0.1.0 (command): gemma-3-12b (gguf-q4_0) on 1 x m3-max with ollama: 48/48 layers on GPU, context 8192, 4 sequences, KV auto
# Re-render instead of editing: deploykit render gemma-3-12b --profile m3-max --gpus 1 --engine ollama --quant gguf-q4_0 --context 8192 --fallback anthropic/claude-haiku-4 --target command
# Against the Ollama server at http://127.0.0.1:11434: pull the weights, create the planned model, load it and keep it
# loaded. The server itself must run with the settings below (systemd: the deploykit drop-in; macOS: launchctl).
set -eu
export OLLAMA_HOST=http://127.0.0.1:11434
# macOS (Ollama app): set the server's environment, then quit and reopen Ollama
launchctl setenv OLLAMA_HOST 127.0.0.1:11434
launchctl setenv OLLAMA_CONTEXT_LENGTH 8192
launchctl setenv OLLAMA_NUM_PARALLEL 4
launchctl setenv OLLAMA_KEEP_ALIVE -1
launchctl setenv OLLAMA_MAX_LOADED_MODELS 1
ollama pull hf.co/google/gemma-3-12b-it-qat-q4_0-gguf:Q4_0
ollama create gemma-3-12b -f "$(dirname "$0")/Modelfile"
curl -fsS "$OLLAMA_HOST/api/generate" -d '{"model": "gemma-3-12b", "keep_alive": -1}' >/dev/null
echo "ready: ${OLLAMA_HOST}/v1 serves gemma-3-12b; try it: ollama run gemma-3-12b 'Hello'"
