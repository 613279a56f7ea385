"""Validators behind ``render --check``: each takes rendered files and returns the problems found, never raises for
a bad file. The official tools run where they exist (compose-spec schema, kubernetes-validate, systemd-analyze,
vLLM's own argument parser); Modelfiles and LiteLLM configs are checked against their documented syntax."""
