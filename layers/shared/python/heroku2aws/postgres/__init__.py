"""PostgreSQL logic of the migration (psycopg 3): preflight analysis, DMS table mappings, parity
verification and sequence sync. Usable from Lambda functions, the ECS task image and the CLI.

    from heroku2aws.postgres.analysis import analyze            # -> PostgresAnalysis
    from heroku2aws.postgres.mappings import dms_table_mappings # -> dict (DMS TableMappings)
    from heroku2aws.postgres.verify import verify               # -> VerifyResult
    from heroku2aws.postgres.sequences import sync_sequences    # -> SequenceSyncReport

Each module imports only what it needs; nothing here imports moto or the rehearsal engine.
"""
