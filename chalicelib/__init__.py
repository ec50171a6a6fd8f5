"""The orders service. Its version, the one /health and the OpenAPI document
report; CHANGELOG.md says what each version changed."""

__version__ = '1.0.0'
