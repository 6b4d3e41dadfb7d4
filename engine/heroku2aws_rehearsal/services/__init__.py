"""Emulated AWS services, one package per service (as moto's ``moto/<service>/`` and LocalStack's
``services/<service>/``): each closes the gaps between moto and the real service for this workflow."""
