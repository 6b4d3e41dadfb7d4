"""AWS conformance check: the project against AWS's published rules, not against the emulator.

``rules`` holds the published facts (each with its source); ``asl`` and ``iam`` apply them to
``statemachine/migration.asl.json`` and ``template.yaml``; ``python -m heroku2aws_conformance``
prints every finding and exits 1 when there is one.
"""
