"""The ingest gateway: vendor pushes over HTTP -> ``raw.<source>`` topics, byte for byte."""
