"""tarmak-connector and the Tarmak side that answers the provider's requests.

- protocol/: the sans-IO wire protocol shared with the provider (no I/O at all);
- relay.py + relay_cli.py: `tarmak-connector`, the stdio <-> Unix socket relay;
- tarmak_side/: the controller that launches the connector and does the work
  (SSH with paramiko, Vault with hvac, HTTP with requests).

Nothing here imports from provider/.
"""
