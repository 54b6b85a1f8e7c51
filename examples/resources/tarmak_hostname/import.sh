# Import by name (default KV mount `hostnaming`), or <mount>/<name>.
terraform import 'tarmak_hostname.web[0]' web-frontend-prod-vm7
terraform import 'tarmak_hostname.web[1]' other-mount/web-frontend-prod-vm8
