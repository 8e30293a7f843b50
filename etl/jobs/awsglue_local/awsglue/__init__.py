"""Local stand-in for AWS Glue's ``awsglue`` (see ``etl.jobs.awsglue_local``)."""

LOCAL_STAND_IN = True
