"""The station's side of the fleet: every box's message stream (`sequences`: what it holds,
receipts, resend requests), what it sends boxes (`outbound`), the periodic round that does
it (`rounds`, `ticks`), the requests boxes send (`requests`) and their chips
(`media_ingest`)."""
