"""tarmak_hostname's rules (no Vault), its allocator and the records it keeps in Vault."""
