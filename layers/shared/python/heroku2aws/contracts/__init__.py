"""The typed contract between the state machine and the Python code, in one place.

- :mod:`.input` — the execution input (and the JSON Schema generated from it);
- :mod:`.events` — what each step's function takes;
- :mod:`.results` — what each step returns (the fields the ASL reads);
- :mod:`.ledger` — the ledger entries the ASL records, one model per kind;
- :mod:`.errors` — every error class the ASL catches or a step raises;
- :mod:`.names` — the names and tags of what the migration creates.

``tests/contracts/test_asl_contract.py`` reads the ASL and checks it against these modules.
"""
