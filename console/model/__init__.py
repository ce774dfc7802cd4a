"""The incident model, warroom's bottom layer: runbook and config models and loaders, the plan
binding, the journal, the state fold, the timeline and scores. It imports no step kind, no
engine and no UI; the step kinds it needs to know of are handed to it as a table."""
