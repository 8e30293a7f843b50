"""The Step Functions workflow, executed locally from ``infra/statemachine/etl_workflow.asl.json``."""
