"""nova-api side: the os-usb-devices and os-usb-controllers REST API."""
