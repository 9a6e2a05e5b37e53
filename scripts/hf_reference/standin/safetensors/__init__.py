"""
A stand-in for the Python `safetensors` package: transformers 4.31 imports two storage helpers from it at start-up
(used only when saving). Without installed metadata transformers still reports safetensors as unavailable, so it
never tries to read or write files through this module; generate.py reads the checkpoints itself.
"""
