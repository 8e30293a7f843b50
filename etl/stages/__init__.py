"""The pipeline's stages, in data-flow order.

``validate`` -> ``discover`` -> ``quality`` -> ``transform`` (+ ``reference``) -> ``load``
-> ``summarise``. ``extract`` reads a raw object the same way for every stage; ``landed``
calls the stages on one landed object, as the workflow does. Only ``validate`` is used by
the Lambdas (standard library only); the rest run on Spark.
"""
