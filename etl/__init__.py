"""etl-workbench: the stages of a serverless AWS ETL pipeline, runnable on a laptop.

Data flows raw -> curated -> analytics through one module per stage:
``validation`` -> ``discovery`` (+ ``catalog``) -> ``quality`` -> ``transform`` -> ``load``
-> ``analytics`` -> ``notify``. ``pipeline`` wires them; ``cli`` is the command line.
"""

__version__ = "0.1.0"
