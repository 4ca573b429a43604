"""Model rollout at the station: publish a model, offer it to boxes, serve their fetches.

- `files`: the published models, content-addressed in the media folder's ``models/``;
- `publish`: ``bear-station model publish`` (check the file and its card, store it, one
  offer per target box);
- `requests`: the boxes' ``model`` reports and ``fetch`` requests, stored in the ingest
  transaction;
- `tick`: on the fleet thread, sends offers until each box answers, and answers fetches
  (models and reference chips by SHA-256) with bounded ``chunk`` messages;
- `status`: which box runs which model, offers in progress and refused.

Submodules are imported directly (nothing is imported at package load).
"""
