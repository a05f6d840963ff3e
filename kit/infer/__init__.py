"""The runtime tier: chat, translation and dictionary lookup over an exported GGUF through llama.cpp.

Nothing in this package imports torch or transformers: it must run on a laptop where
only llama-cpp-python is installed (the "runtime" install of the kit).
"""
