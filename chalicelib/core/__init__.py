"""The pure ground floor: errors, inputs, the clock, ids, lazy imports and money.
No database, no AWS, no settings: every other floor stands on these."""
