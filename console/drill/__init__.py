"""``warroom drill``: the rollback rehearsed against a throw-away sandbox.

- :mod:`.sandbox` builds the tree (a SalonManager git checkout, backups, keys, state);
- :mod:`.standins` and :mod:`.tools` are the stand-in commands (php artisan, composer, ...);
- :mod:`.sshserver` is the embedded SSH server standing in for the app host;
- :mod:`.httpserver` answers the app's health endpoint from the sandbox state;
- :mod:`.drillconfig` writes the sandbox's ordinary warroom config;
- :mod:`.score` is the game-day score, a pure function of the incident state;
- :mod:`.run` ties them together around the ordinary headless run.

Nothing here imports Textual: the console (screens/) is a client of this package.
"""
