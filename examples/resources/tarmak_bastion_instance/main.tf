# What resource.tf needs to validate on its own. In a real environment the two
# values come from the bastion's instance (e.g. aws_instance.bastion.public_ip
# and aws_instance.bastion.id).
terraform {
  required_providers {
    tarmak = {
      source = "jetstack/tarmak"
    }
  }
}

variable "bastion_public_ip" {
  type = string
}

variable "bastion_instance_id" {
  type = string
}
