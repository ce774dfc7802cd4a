"""The read-only status page for stakeholders (``warroom serve --http``): the incident in a browser.

:mod:`.server` serves it (aiohttp), :mod:`.live` renders it once per change for every open event
stream, :mod:`.view` says what it shows (from the folded journal), :mod:`.page` renders it with
autoescaping Jinja2 templates, :mod:`.access` checks the token or password, :mod:`.presence`
counts each browser as a watcher and :mod:`.reports` builds the closed incident's report.
Nothing here calls a command of the engine: the page can only read.
"""
