"""Local stand-in for AWS Glue's ``awsglue`` (see ``etl.awsglue_local``)."""

LOCAL_STAND_IN = True
