"""The Step Functions workflow, run locally from infra/statemachine/etl_workflow.asl.json."""
