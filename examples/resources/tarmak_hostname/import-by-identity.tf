# Terraform 1.12+: adopt an existing allocation by its identity.
import {
  to = tarmak_hostname.web[0]
  identity = {
    kv_mount = "hostnaming"
    name     = "web-frontend-prod-vm7"
  }
}
