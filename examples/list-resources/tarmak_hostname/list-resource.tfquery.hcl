# terraform query -generate-config-out=hostnames.tf
# lists the live web hostnames and writes import blocks (by identity) for them.
list "tarmak_hostname" "web" {
  provider         = tarmak
  include_resource = true

  config {
    kv_mount    = "hostnaming"
    application = "web"
    environment = "prod"
  }
}
