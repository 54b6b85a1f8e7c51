"""Package the provider for a Terraform provider registry we host ourselves.

`make package-for-registry` builds one executable per platform (pex),
zips them the way Terraform expects, writes SHA256SUMS and its GPG signature,
and publishes a static registry tree (and a network mirror) that
`terraform init` installs from.
"""
