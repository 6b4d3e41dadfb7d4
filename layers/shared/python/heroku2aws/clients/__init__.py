"""Clients written once: AWS (boto3 construction, error codes, Route 53 record listing), Secrets Manager
values, connection URLs built from them, and the Heroku Platform API."""
