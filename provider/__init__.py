"""terraform-provider-tarmak: a Terraform provider whose resources wait for Tarmak."""

__version__ = "0.1.0"
