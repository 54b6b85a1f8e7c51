terraform {
  required_providers {
    tarmak = {
      source  = "jetstack/tarmak"
      version = "~> 0.1"
    }
  }
}

# Every setting is optional and falls back to the environment:
# VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT, VAULT_NAMESPACE, TARMAK_CONNECTOR_SOCKET.
provider "tarmak" {
  socket_path = "/tmp/tarmak-connector.sock"
}
