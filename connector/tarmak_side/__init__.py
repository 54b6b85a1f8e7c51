"""The Tarmak side: launches tarmak-connector and serves the provider's calls."""
