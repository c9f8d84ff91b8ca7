"""ternlut's front-ends: the command lines ``hwgen``, ``costmodel`` and ``dse`` (:mod:`ternlut.cli`).

They sit on top of every other layer (description <- gateware, reference, cost model <- dse <- CLIs)
and nothing imports them.
"""

__version__ = "0.1.0"
