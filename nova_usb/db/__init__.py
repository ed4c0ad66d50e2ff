"""How USB requests are stored in instance_system_metadata."""
