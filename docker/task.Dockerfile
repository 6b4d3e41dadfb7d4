# The image the workflow's ECS tasks run (template.yaml: DumpRestoreTaskDefinition, RedisRestoreTaskDefinition):
#   python -m heroku2aws.tasks.pg_dump_restore   (pg_dump -Fd -j N | pg_restore -j N)
#   python -m heroku2aws.tasks.redis_restore
# It also carries pg-verify (python -m heroku2aws.postgres.verify_cli) for a person to run by hand against a
# database too big for the verify function's 15 minutes (docker run, or a RunTask of DumpRestoreTaskDefinition
# with a command override): the workflow defines no task of its own for it.
#
# Build from the repository root with `make image` (builds, then pushes to the stack's ECR repository), or:
#   docker build -f docker/task.Dockerfile -t heroku2aws-task .
#   docker build -f docker/task.Dockerfile --build-arg PG_CLIENT_MAJOR=16 -t heroku2aws-task .
#
# PG_CLIENT_MAJOR: pg_dump refuses to dump a server newer than itself, so it must be at least the
# source's major version (Heroku Postgres 14-17); a newer pg_dump/pg_restore works against older
# servers. The client comes from the PostgreSQL project's own apt repository (PGDG), which carries
# every supported major version for Debian bookworm.
ARG PYTHON_IMAGE=python:3.12-slim-bookworm
FROM ${PYTHON_IMAGE}

ARG PG_CLIENT_MAJOR=15
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates curl; \
    install -d /usr/share/postgresql-common/pgdg; \
    curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc \
        https://www.postgresql.org/media/keys/ACCC4CF8.asc; \
    . /etc/os-release; \
    echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt ${VERSION_CODENAME}-pgdg main" \
        > /etc/apt/sources.list.d/pgdg.list; \
    apt-get update; \
    apt-get install -y --no-install-recommends "postgresql-client-${PG_CLIENT_MAJOR}"; \
    apt-get purge -y --auto-remove curl; \
    rm -rf /var/lib/apt/lists/*; \
    pg_dump --version; pg_restore --version

# The deployed package's own dependencies (pyproject's [project] dependencies), at the versions
# requirements.lock pins for the whole tree; the rehearsal engine and dev tools stay out.
COPY requirements.lock /tmp/requirements.lock
RUN pip install --constraint /tmp/requirements.lock \
        boto3 aws-lambda-powertools "psycopg[binary]" "redis[hiredis]" pydantic jsonschema \
    && rm /tmp/requirements.lock

COPY layers/shared/python/heroku2aws /opt/heroku2aws/heroku2aws
ENV PYTHONPATH=/opt/heroku2aws \
    DUMP_DIR=/tmp

RUN useradd --create-home --uid 10001 task \
    && python -c "import heroku2aws.tasks.pg_dump_restore, heroku2aws.postgres.verify_cli"
USER task
WORKDIR /home/task

# The task definition gives the command; this default just shows the usage.
CMD ["python", "-m", "heroku2aws.tasks.pg_dump_restore", "--help"]
