"""The incident host: opens or resumes an incident and serves it to its clients (the local
console, ``warroom watch``, SSH sessions, headless runs). Above the engine, below the entry."""
