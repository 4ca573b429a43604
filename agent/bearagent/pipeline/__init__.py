"""The chip pipeline: intake, micro-batching, embedding, matching, recording."""
