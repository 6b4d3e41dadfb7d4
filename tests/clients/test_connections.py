"""Connection helpers: URLs and keys built from secrets inside the function (moto Secrets Manager)."""

from __future__ import annotations

import json

import boto3
import pytest

from heroku2aws.clients.connections import SecretFormatError, heroku_api_key, postgres_url, redis_url


@pytest.fixture
def secret(moto):
    sm = boto3.client("secretsmanager")
    counter = iter(range(1000))

    def make(value) -> str:
        text = value if isinstance(value, str) else json.dumps(value)
        return sm.create_secret(Name=f"heroku2aws/test/s{next(counter)}", SecretString=text)["ARN"]

    return make


PG = {"host": "db.example.com", "port": 5433, "username": "app user", "password": "p@ss:w/rd?#", "dbname": "app"}


def test_given_postgres_fields_when_built_then_a_quoted_url_with_sslmode_require(secret):
    url = postgres_url(secret(PG))
    assert url == "postgresql://app%20user:p%40ss%3Aw%2Frd%3F%23@db.example.com:5433/app?sslmode=require"
    import psycopg.conninfo

    info = psycopg.conninfo.conninfo_to_dict(url)
    assert info["password"] == PG["password"] and info["user"] == "app user" and info["port"] == "5433"


def test_given_an_sslmode_in_the_secret_when_built_then_it_wins(secret):
    assert postgres_url(secret({**PG, "sslmode": "verify-full"})).endswith("?sslmode=verify-full")


def test_given_a_target_secret_when_built_with_the_target_default_then_prefer(secret):
    assert postgres_url(secret(PG), default_sslmode="prefer").endswith("?sslmode=prefer")


def test_given_only_a_url_when_built_then_the_url_is_used_with_its_sslmode(secret):
    url = postgres_url(secret({"url": "postgres://u:pw@h:5432/d?sslmode=disable"}))
    assert url == "postgresql://u:pw@h:5432/d?sslmode=disable"


def test_given_an_ipv6_host_when_built_then_bracketed(secret):
    assert "@[::1]:5432/" in postgres_url(secret({**PG, "host": "::1", "port": None}))


@pytest.mark.parametrize("value", ["not json", {"host": "h", "username": "u"}, {"url": "mysql://u:p@h/d"},
                                   {**PG, "sslmode": "maybe"}])
def test_given_a_malformed_postgres_secret_when_built_then_an_error_without_values(secret, value):
    with pytest.raises(SecretFormatError) as err:
        postgres_url(secret(value))
    assert "p@ss" not in str(err.value) and "mysql://" not in str(err.value)


@pytest.mark.parametrize("value", [{"url": "rediss://:pw@h:6380"}, "rediss://:pw@h:6380", "rediss://:pw@h:6380\n"])
def test_given_a_redis_secret_when_read_then_the_url(secret, value):
    assert redis_url(secret(value)) == "rediss://:pw@h:6380"


def test_given_a_redis_secret_without_a_url_when_read_then_an_error_without_value(secret):
    with pytest.raises(SecretFormatError) as err:
        redis_url(secret({"url": "http://pw@h"}))
    assert "pw@h" not in str(err.value)


@pytest.mark.parametrize("value", ["HRKU-abc123", {"api_key": "HRKU-abc123"}, " HRKU-abc123\n"])
def test_given_a_heroku_key_secret_when_read_then_the_key(secret, value):
    assert heroku_api_key(secret(value)) == "HRKU-abc123"


@pytest.mark.parametrize("value", ["", {"token": "x"}, "two words"])
def test_given_no_heroku_key_when_read_then_an_error(secret, value):
    with pytest.raises(SecretFormatError):
        heroku_api_key(secret(value if value else " "))
