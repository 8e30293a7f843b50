"""The AWS Glue job: its arguments (``glue_job``), its work (``transform``), its Spark session.

``glue_scripts/transform_job.py`` is the deployed script, generated from the notebook's
export cells; ``awsglue_local`` lets that script run on a laptop.
"""
