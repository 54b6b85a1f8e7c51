# Blocks until Tarmak reaches the bastion over SSH and wing answers.
resource "tarmak_bastion_instance" "bastion" {
  hostname    = var.bastion_public_ip
  username    = "centos"
  instance_id = var.bastion_instance_id

  timeouts {
    create = "15m"
  }
}
