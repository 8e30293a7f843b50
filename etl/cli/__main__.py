from etl.cli.main import run_as_command

run_as_command()
