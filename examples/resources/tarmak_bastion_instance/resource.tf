# Blocks until Tarmak reaches the bastion over SSH and wing answers.
resource "tarmak_bastion_instance" "bastion" {
  hostname    = aws_instance.bastion.public_ip
  username    = "centos"
  instance_id = aws_instance.bastion.id

  timeouts {
    create = "15m"
  }
}
