"""Plans into files: argv lists, Jinja2 templates (StrictUndefined, quoting filters) and the validators behind
``render --check``."""
