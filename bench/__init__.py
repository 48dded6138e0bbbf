"""pairchat's benchmark suite (``make bench``). Not part of ``make test``.

Every benchmark reports its result as a ratio to a limit measured in the same run, because
the machine it runs on is shared and noisy: absolute numbers drift, ratios much less.
"""
