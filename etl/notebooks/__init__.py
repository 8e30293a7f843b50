"""Notebook tooling: the project kernel's Glue session magics and papermill runs."""
