"""The laptop side: the workflow runner and the AWS stand-ins it answers with, DuckDB queries.

Nothing deployed imports this package: the Glue job and the Lambdas run without it.
"""
