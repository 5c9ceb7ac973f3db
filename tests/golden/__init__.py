"""Golden results of the model: reps, periods and deals tables, event counts and record digests."""
