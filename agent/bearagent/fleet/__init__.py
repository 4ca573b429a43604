"""The box's side of the fleet: what the station sends it (`inbound`: receipts, resend
requests, the gallery feed, desk decisions, model offers) and what it sends the station
besides its events (`media`: the chips of ended encounters)."""
