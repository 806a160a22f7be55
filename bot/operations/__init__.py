"""Running the bot: what the person who keeps it going needs (a town hall's or an association's IT).

``admins`` (the first admin without editing TOML), ``backup`` (a consistent copy while it runs, and
back), ``status`` (what it is doing, read from the database so it works from another shell),
``heartbeat`` (the running process's signs of life) and ``web`` (``/healthz`` and Prometheus
``/metrics`` on the bot's HTTP server). The command line (``bot.cli``) calls these; the chat side of
the bot never does.
"""
