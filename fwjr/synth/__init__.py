"""The synthetic FWJR generator, in parts; `fwjr.generate` is its public face.

Split by what each module holds: the random draws, the model file and its shares, the
workflow catalogue, the error texts, the step parts, the job builder, the agent's CouchDB
form, drift and damage, the stream, and the archive writer.
"""
