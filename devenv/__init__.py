"""The local environment: real Terraform, OpenBao (Vault), sshd bastion and a
wing health endpoint, started on loopback for the tests and the demo."""
