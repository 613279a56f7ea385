"""deploykit: plan, render and launch self-hosted open-weight LLM deployments."""

__version__ = "0.1.0"
