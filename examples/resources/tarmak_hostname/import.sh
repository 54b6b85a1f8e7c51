# Import by name from the default KV mount `hostnaming`; from another mount
# (with kv_mount set to it in the configuration), use <mount>/<name>.
terraform import 'tarmak_hostname.web[0]' web-frontend-prod-vm7
terraform import 'tarmak_hostname.web[1]' web-frontend-prod-vm8
