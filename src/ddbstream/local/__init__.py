"""The local stack: an embedded AWS emulator, Terraform applied to it, and a local Lambda runtime."""
