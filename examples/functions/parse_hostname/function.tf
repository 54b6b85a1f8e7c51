output "environment" {
  # "prod"
  value = provider::tarmak::parse_hostname("web-frontend-prod-vm7").environment
}
