"""The one-command demo: synthetic bears, a trained embedder, a live agent and broker."""
