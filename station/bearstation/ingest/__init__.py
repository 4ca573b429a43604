"""From parsed messages to rows: one module per kind of event, and the batch writer
(`bearstation.ingest.batch.write_batch`)."""
