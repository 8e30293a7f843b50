"""The core: dataset definitions, errors, the quality score and metric records.

Standard library only, so every layer above - Lambdas included - can import it.
"""
