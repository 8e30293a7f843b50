"""Deployment artifacts: ``etl export`` builds the Glue script, package zip and Lambda bundles."""
