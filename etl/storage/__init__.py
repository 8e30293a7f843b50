"""Storage: lake paths (local folders or S3), the catalog (local file or Glue), publishing."""
