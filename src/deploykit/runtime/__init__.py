"""Launching and supervising engines: processes, containers, the Ollama API, readiness, engine logs, and the
registry of what deploykit started. Every effect on the world lives here."""
