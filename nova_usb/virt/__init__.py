"""nova-compute side: host USB inventory, device_spec, libvirt XML."""
