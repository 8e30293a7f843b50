"""Lambda entry points: the ingestion trigger, validation and the quality check.

Each module exposes ``handler(event, context)`` and imports only the standard library,
boto3 (in the Lambda runtime) and the pure parts of ``etl`` (``datasets``, ``validation``),
so the package zip deploys without a layer. Locally, the workflow runner invokes the same
handlers (see ``etl.local.services``).
"""
