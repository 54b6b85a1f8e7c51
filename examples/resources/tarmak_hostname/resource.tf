# Unique names such as web-frontend-prod-vm7, also under concurrent applies.
resource "tarmak_hostname" "web" {
  count       = 3
  application = "web"
  role        = "frontend"
  environment = "prod"
}

output "web_hostnames" {
  value = tarmak_hostname.web[*].name
}
