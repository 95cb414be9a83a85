"""The local stack: an embedded AWS emulator, Terraform applied to it, a local Lambda runtime."""
