"""The shared core that every stage stands on: the config, files written whole or not at all, the
annealed stores (the data contract), checkpoints, the seeds of every random stream, and devices.
It imports nothing else of latentspin.
"""
